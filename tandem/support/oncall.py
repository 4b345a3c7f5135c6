"""Who is on call (PS-2): rotations, overrides, availability, and coverage gaps.

A ``Schedule`` loads an agency's rotations, overrides and ready supporters once, then
answers "who is primary / backup at this moment" from memory, so the on-call page and the
14-day coverage scan cost a fixed number of queries however many supporters there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from tandem.accounts.models import User
from tandem.readiness.gates import READY_RELATED, peer_support_ready_loaded
from tandem.support import vocab
from tandem.support.models import Override, Rotation, RotationMember, SupporterProfile

if TYPE_CHECKING:
    from tandem.agencies.models import Agency

COVERAGE_DAYS = 14
COVERAGE_STEP = timedelta(minutes=30)


@dataclass(frozen=True)
class Shift:
    layer: str
    supporter: SupporterProfile
    start: datetime
    end: datetime
    override: bool


@dataclass(frozen=True)
class Gap:
    layer: str
    start: datetime
    end: datetime


#: How long a computed coverage snapshot serves the home page when nothing changes.
SNAPSHOT_TTL = timedelta(minutes=15)


def coverage_gaps(agency: Agency, now: datetime | None = None) -> list[Gap]:
    """The gaps of the next ``COVERAGE_DAYS`` for the home page: one indexed read of the
    agency's snapshot; the full walk of the rota only when a change deleted it or it is
    older than ``SNAPSHOT_TTL`` (then a bounded set of queries, whatever the roster size)."""
    from tandem.support.models import CoverageSnapshot

    now = now or timezone.now()
    snapshot = CoverageSnapshot.objects.filter(agency=agency).first()
    if snapshot is None or not (now - SNAPSHOT_TTL <= snapshot.computed_at <= now):
        gaps = Schedule(agency, until=now + timedelta(days=COVERAGE_DAYS + 1), full=True).gaps(
            start=now, days=COVERAGE_DAYS
        )
        stored = [
            {"layer": g.layer, "start": g.start.isoformat(), "end": g.end.isoformat()} for g in gaps
        ]
        CoverageSnapshot.objects.update_or_create(
            agency=agency, defaults={"computed_at": now, "gaps": stored}
        )
        return gaps
    return [
        Gap(g["layer"], datetime.fromisoformat(g["start"]), datetime.fromisoformat(g["end"]))
        for g in snapshot.gaps
        if datetime.fromisoformat(g["end"]) > now
    ]


def agency_tz(agency: Agency) -> ZoneInfo:
    try:
        return ZoneInfo(agency.time_zone)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _gate_loaded(profile: SupporterProfile) -> bool:
    """Whether the profile's account and gate came with it (``select_related``)."""
    return SupporterProfile.user.is_cached(profile) and User.readiness_gate.is_cached(profile.user)


class Schedule:
    """On-call answers for one agency.

    ``full=True`` loads every rotation's participants and the whole ready set once, for
    scans over many moments (coverage gaps, calendar feeds). The default answers a few
    moments (on call now, routing) with a handful of indexed queries whatever the roster's
    size: the rotations come with their sizes, so the participants on shift at a moment are
    found by position, every rotation's in one query, and their readiness is read from the
    gates loaded with them.
    """

    def __init__(
        self,
        agency: Agency,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        full: bool = False,
    ) -> None:
        now = timezone.now()
        self.agency = agency
        self.tz = agency_tz(agency)
        # With a bounded window, "full" loads only the participants on shift in it (a
        # fortnight of 12-hour shifts is 28 people per rotation, whatever the roster's size).
        window = full and until is not None
        self.full = full and not window
        rotations = Rotation.objects.filter(agency=agency)
        self.rotations: list[Rotation]
        #: Participants per rotation (not ``full``), and the participant at each position
        #: loaded so far: ``None`` where the position is empty.
        self._sizes: dict[int, int] = {}
        self._members: dict[tuple[int, int], SupporterProfile | None] = {}
        if self.full:
            # Joined into the members' query: prefetching the profiles by id would send one
            # IN list of every participant, which SQLite refuses past ~1,000 supporters.
            self.rotations = list(
                rotations.prefetch_related(
                    Prefetch(
                        "members",
                        queryset=RotationMember.objects.select_related("supporter__user"),
                    )
                )
            )
        else:
            sized = list(rotations.annotate(size=Count("members")))
            self._sizes = {r.pk: r.size for r in sized}
            self.rotations = list(sized)
        overrides = Override.objects.filter(agency=agency, ends_at__gt=since or now)
        if until is not None:
            overrides = overrides.filter(starts_at__lt=until)
        self.overrides = list(overrides.select_related(f"supporter__user__{READY_RELATED}"))
        self._ready: dict[int, bool] = {}
        if self.full:
            ready = SupporterProfile.objects.ready(agency).values_list("pk", flat=True)
            self._ready = dict.fromkeys(ready, True)
        if window and until is not None:
            self._preload(since or now, until)

    def _preload(self, since: datetime, until: datetime) -> None:
        """Load, in one query, who is on shift in [since, until) and their gates, so a scan
        over the window asks the database nothing more."""
        wanted: set[tuple[int, int]] = set()
        for rotation in self.rotations:
            size = self._sizes[rotation.pk]
            first = rotation.shift_index_at(since, self.tz)
            last = rotation.shift_index_at(until, self.tz)
            if not size or last is None:
                continue
            wanted |= {(rotation.pk, i % size) for i in range(max(first or 0, 0), last + 1)}
        self._load_members(wanted)

    def _load_members(self, wanted: set[tuple[int, int]]) -> None:
        """Fetch the participants at the (rotation, position) pairs ``wanted``, with their
        accounts and gates, in one query."""
        wanted = {key for key in wanted if key not in self._members}
        if not wanted:
            return
        pairs = Q(pk__in=[])
        for rotation_id, position in sorted(wanted):
            pairs |= Q(rotation_id=rotation_id, position=position)
        self._members.update(dict.fromkeys(wanted))
        found = (
            RotationMember.objects.filter(pairs)
            .order_by()
            .select_related(f"supporter__user__{READY_RELATED}")
        )
        for member in found:
            self._members[(member.rotation_id, member.position)] = member.supporter

    def is_ready(self, profile: SupporterProfile) -> bool:
        """Designated and compliant (the readiness gate), cached per schedule."""
        if self.full:
            return self._ready.get(profile.pk, False)
        if profile.pk not in self._ready:
            if _gate_loaded(profile):  # came with the shift
                self._ready[profile.pk] = profile.agency_id == self.agency.pk and (
                    peer_support_ready_loaded(profile.user, self.agency)
                )
            else:
                self._ready[profile.pk] = (
                    SupporterProfile.objects.ready(self.agency).filter(pk=profile.pk).exists()
                )
        return self._ready[profile.pk]

    def prefetch_ready(self, profiles: list[SupporterProfile]) -> None:
        """Learn whether each of ``profiles`` is ready with at most one query (on call now
        asks for every layer's supporter, whose gates usually came with the shift)."""
        if self.full:
            return
        wanted = set()
        for profile in profiles:
            if profile.pk in self._ready:
                continue
            if _gate_loaded(profile):
                self.is_ready(profile)
            else:
                wanted.add(profile.pk)
        if not wanted:
            return
        ready = set(
            SupporterProfile.objects.ready(self.agency)
            .filter(pk__in=wanted)
            .values_list("pk", flat=True)
        )
        for pk in wanted:
            self._ready[pk] = pk in ready

    def _member_at(self, rotation: Rotation, index: int, at: datetime) -> SupporterProfile | None:
        if self.full:
            members = list(rotation.members.all())
            return members[index % len(members)].supporter if members else None
        size = self._sizes.get(rotation.pk, 0)
        if not size:
            return None
        key = (rotation.pk, index % size)
        if key not in self._members:
            # Every rotation's participant at ``at`` in one query: on call now and routing
            # ask for each layer at the same moment.
            wanted = {key}
            for other in self.rotations:
                other_index = other.shift_index_at(at, self.tz)
                other_size = self._sizes.get(other.pk, 0)
                if other_index is not None and other_size:
                    wanted.add((other.pk, other_index % other_size))
            self._load_members(wanted)
        return self._members[key]

    def _rotation_shift(self, rotation: Rotation, at: datetime) -> Shift | None:
        index = rotation.shift_index_at(at, self.tz)
        if index is None:
            return None
        supporter = self._member_at(rotation, index, at)
        if supporter is None:
            return None
        start, end = rotation.shift_bounds(index, self.tz)
        return Shift(rotation.layer, supporter, start, end, False)

    def shift_at(self, layer: str, at: datetime) -> Shift | None:
        """The scheduled shift of ``layer`` at ``at`` (overrides win over rotations)."""
        for item in self.overrides:
            if item.layer == layer and item.starts_at <= at < item.ends_at:
                return Shift(layer, item.supporter, item.starts_at, item.ends_at, True)
        for rotation in self.rotations:
            if rotation.layer == layer:
                shift = self._rotation_shift(rotation, at)
                if shift is not None:
                    return shift
        return None

    def covering(self, layer: str, at: datetime) -> SupporterProfile | None:
        """The supporter who can actually answer: scheduled, ready and available."""
        shift = self.shift_at(layer, at)
        if shift is None:
            return None
        return shift.supporter if self.can_answer(shift.supporter, at) else None

    def can_answer(self, supporter: SupporterProfile, at: datetime) -> bool:
        """Whether the supporter on shift at ``at`` can answer: available and ready."""
        return supporter.is_available_at(at) and self.is_ready(supporter)

    def gaps(self, start: datetime | None = None, days: int = COVERAGE_DAYS) -> list[Gap]:
        """Stretches in the next ``days`` when a layer has nobody who can answer."""
        begin = start or timezone.now()
        begin = begin.replace(second=0, microsecond=0)
        found: list[Gap] = []
        for layer in vocab.Layer.values:
            open_gap: datetime | None = None
            moment = begin
            end = begin + timedelta(days=days)
            while moment < end:
                missing = self.covering(layer, moment) is None
                if missing and open_gap is None:
                    open_gap = moment
                elif not missing and open_gap is not None:
                    found.append(Gap(layer, open_gap, moment))
                    open_gap = None
                moment += COVERAGE_STEP
            if open_gap is not None:
                found.append(Gap(layer, open_gap, end))
        return sorted(found, key=lambda g: (g.start, g.layer))

    def on_other_layer(
        self, supporter: SupporterProfile, layer: str, start: datetime, end: datetime
    ) -> datetime | None:
        """The first moment in [start, end) at which ``supporter`` is scheduled on a layer
        other than ``layer`` (one person cannot be primary and backup at once)."""
        moment = start
        while moment < end:
            for other in vocab.Layer.values:
                shift = self.shift_at(other, moment) if other != layer else None
                if shift is not None and shift.supporter.pk == supporter.pk:
                    return moment
            moment += COVERAGE_STEP
        return None

    def shifts_of(
        self, supporter: SupporterProfile, start: datetime, days: int = 60
    ) -> list[Shift]:
        """The supporter's own shifts (rotations and overrides), for the calendar feed."""
        end = start + timedelta(days=days)
        shifts: list[Shift] = [
            Shift(o.layer, o.supporter, o.starts_at, o.ends_at, True)
            for o in self.overrides
            if o.supporter_id == supporter.pk and o.ends_at > start and o.starts_at < end
        ]
        for rotation in self.rotations:
            members = list(rotation.members.all())
            if not any(m.supporter_id == supporter.pk for m in members):
                continue
            first = max(rotation.shift_index_at(start, self.tz) or 0, 0)
            index = first
            while True:
                begin, finish = rotation.shift_bounds(index, self.tz)
                if begin >= end:
                    break
                if members[index % len(members)].supporter_id == supporter.pk:
                    shifts.append(Shift(rotation.layer, supporter, begin, finish, False))
                index += 1
        return sorted(shifts, key=lambda s: s.start)
