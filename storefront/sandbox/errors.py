"""An error as Stripe answers it (https://docs.stripe.com/api/errors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StripeError(Exception):
    """An error as Stripe answers it: HTTP status and the `error` object of the body."""

    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    before_execution: bool = False  # validation failed before the endpoint ran: nothing is saved

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}


def invalid(message: str, *, code: str | None = None, param: str | None = None) -> StripeError:
    return StripeError(400, message, code=code, param=param, before_execution=True)
