"""Queued jobs of the notifications app. Arguments are ids only: job rows are plain text."""

from __future__ import annotations

from django_tasks import task

from tandem.notifications.services import delivery_attempt


@task()
def deliver_notification(delivery_id: int) -> str:
    return delivery_attempt(delivery_id=delivery_id)
