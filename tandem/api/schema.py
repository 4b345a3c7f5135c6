"""The OpenAPI description: every operation also documents its problem-details answers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ProblemSerializer(serializers.Serializer[Any]):
    """RFC 9457 problem details."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField(required=False)
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


PROBLEMS = {
    "400": "The body or parameters are not valid, or a rule refused the change.",
    "401": "No token, or an unknown, expired or revoked one.",
    "403": "The token does not carry the scope this operation needs.",
    "404": "Missing, or not yours to see: the same answer.",
    "405": "The operation does not take this method.",
    "406": "Only JSON is offered.",
    "415": "Send JSON.",
    "429": "Too many calls: wait the seconds in Retry-After.",
}


class ProblemAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for code, description in PROBLEMS.items():
            if code in ("400", "415") and self.method not in ("POST", "PUT", "PATCH"):
                continue
            if code not in responses:
                answer = self._get_response_for_code(
                    ProblemSerializer,
                    code,
                    media_types=["application/problem+json"],
                    direction=direction,
                )
                answer["description"] = description
                responses[code] = answer
        return responses


def positive_ids(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Object ids in paths are positive integers (the URL patterns take nothing else)."""
    for item in result.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter["schema"].get("type") == "integer":
                    parameter["schema"]["minimum"] = 1
    return result


#: OpenAPI links: what a client (and Schemathesis' stateful phase) may call next with an id
#: from an answer — (operation, status) → {link name: (next operation, path parameter,
#: runtime expression)}. Lists link their first row to its detail.
LINKS: dict[tuple[str, str], dict[str, tuple[str, str, str]]] = {
    ("members_create", "201"): {
        "GetMember": ("members_retrieve", "id", "$response.body#/id"),
        "UpdateMember": ("members_partial_update", "id", "$response.body#/id"),
    },
    ("members_list", "200"): {
        "GetFirstMember": ("members_retrieve", "id", "$response.body#/results/0/id"),
    },
    ("members_partial_update", "200"): {
        "GetMember": ("members_retrieve", "id", "$response.body#/id"),
    },
    ("recovery_clients_list", "200"): {
        "GetFirstClient": ("recovery_clients_retrieve", "id", "$response.body#/results/0/id"),
        "ListContacts": ("recovery_clients_contacts_list", "id", "$response.body#/results/0/id"),
        "ReferFirstClient": (
            "recovery_clients_referrals_create",
            "id",
            "$response.body#/results/0/id",
        ),
        "DiscloseFirstClient": (
            "recovery_clients_disclosures_create",
            "id",
            "$response.body#/results/0/id",
        ),
    },
    ("recovery_clients_retrieve", "200"): {
        "ListContacts": ("recovery_clients_contacts_list", "id", "$response.body#/id"),
        "Refer": ("recovery_clients_referrals_create", "id", "$response.body#/id"),
    },
    ("recovery_clients_referrals_create", "201"): {
        "GetReferral": ("recovery_referrals_retrieve", "id", "$response.body#/id"),
        "GetClient": ("recovery_clients_retrieve", "id", "$response.body#/client"),
    },
    ("recovery_referrals_list", "200"): {
        "GetFirstReferral": ("recovery_referrals_retrieve", "id", "$response.body#/results/0/id"),
    },
    ("reports_list", "200"): {
        "GetFirstReport": ("reports_retrieve", "id", "$response.body#/results/0/id"),
    },
}


def add_links(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Put ``LINKS`` into the description (a link to an unknown operation is an error)."""
    operations = {
        op["operationId"]: op
        for item in result.get("paths", {}).values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    for (source, status), links in LINKS.items():
        response = operations[source]["responses"][status]
        response["links"] = {
            name: {
                "operationId": operations[target]["operationId"],
                "parameters": {parameter: expression},
            }
            for name, (target, parameter, expression) in links.items()
        }
    return result
