"""The OpenAPI 3.1 document of the server's JSON API (``GET /openapi.json``).

Written out rather than generated: the routes are plain Starlette functions (no
per-request validation framework on the hot path), so the document says what
the codec accepts and answers.
"""

from __future__ import annotations

from typing import Any

from modelyard import __version__

__all__ = ["openapi_document"]

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "details": {
            "type": "object",
            "properties": {
                "missing": {"type": "array", "items": {"type": "string"}},
                "extra": {"type": "array", "items": {"type": "string"}},
                "conflicts": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
    },
}
_VALUE = {"type": ["number", "string", "boolean", "null"]}
_PREDICT_REQUEST = {
    "oneOf": [
        {
            "type": "object",
            "required": ["records"],
            "properties": {
                "records": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "object", "additionalProperties": _VALUE},
                }
            },
        },
        {
            "type": "object",
            "required": ["columns", "data"],
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array", "items": _VALUE}},
            },
        },
    ]
}
_PREDICT_RESPONSE = {
    "type": "object",
    "required": ["model", "version", "request_id", "predictions"],
    "properties": {
        "model": {"type": "string"},
        "version": {"type": "integer"},
        "request_id": {"type": "string"},
        "predictions": {"type": "array", "items": _VALUE},
        "classes": {"type": "array", "items": _VALUE},
        "probabilities": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
    },
}


def _errors(*codes: int) -> dict[str, Any]:
    described = {
        400: "malformed JSON or request",
        404: "no such model",
        413: "body over the size limit",
        422: "the rows do not match the model signature (each field named)",
        503: "model not ready, or shedding load (see Retry-After)",
        504: "no answer within the request timeout",
    }
    return {
        str(c): {
            "description": described[c],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for c in codes
    }


def openapi_document() -> dict[str, Any]:
    """The document (a fresh dict each call)."""
    predict = {
        "post": {
            "summary": "Predict rows with the model (or deployment) NAME",
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "X-Routing-Key",
                    "in": "header",
                    "required": False,
                    "description": "Sticky deployments send the same key to the same variant.",
                    "schema": {"type": "string"},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _PREDICT_REQUEST}},
            },
            "responses": {
                "200": {
                    "description": "Predictions (and probabilities for classifiers)",
                    "content": {"application/json": {"schema": _PREDICT_RESPONSE}},
                },
                **_errors(400, 404, 413, 422, 503, 504),
            },
        }
    }
    feedback = {
        "post": {
            "summary": "Attach ground-truth labels to earlier request ids",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "request_id": {"type": "string"},
                                "label": _VALUE,
                                "feedback": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["request_id", "label"],
                                        "properties": {
                                            "request_id": {"type": "string"},
                                            "label": _VALUE,
                                        },
                                    },
                                },
                            },
                        }
                    }
                },
            },
            "responses": {"200": {"description": "Accepted"}, **_errors(400, 413)},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "modelyard inference server (JSON API)", "version": __version__},
        "paths": {
            "/v1/models": {
                "get": {
                    "summary": "Served models and deployments",
                    "responses": {"200": {"description": "Status per deployment"}},
                }
            },
            "/v1/models/{name}:predict": predict,
            "/v1/feedback": feedback,
        },
        "components": {"schemas": {"Error": _ERROR}},
    }
