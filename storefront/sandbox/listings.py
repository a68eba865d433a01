"""The reads a back office and a go-live check make: the account, webhook endpoints, and lists of
events, PaymentIntents and refunds."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from storefront.sandbox import objects
from storefront.sandbox.base import INTENT_EXPANSIONS, AccountBase, check_params
from storefront.sandbox.errors import StripeError, invalid
from storefront.sandbox.faults import read_switches
from storefront.sandbox.lists import LIST_PARAMS, created_filter, expand, expansions, page
from storefront.sandbox.webhooks import add_endpoint, endpoints


def _without_secret(configured: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in configured.items() if name != "secret"}


class Listings(AccountBase):
    def account(self, params: dict[str, Any]) -> dict[str, Any]:
        check_params(params, frozenset({"expand"}))
        switches = read_switches(self.store)
        return objects.account(
            switches.twint_capability,
            charges_enabled=switches.charges_enabled,
            country=switches.account_country,
            currency=switches.account_currency,
        )

    # --- webhook endpoints ---------------------------------------------------------------------

    def create_webhook_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        """Its secret is in this answer only, as Stripe shows it once."""
        check_params(params, frozenset({"url", "enabled_events", "description", "metadata", "api_version", "expand"}))
        url = params.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise invalid("Invalid URL: must be an http(s) URL", code="url_invalid", param="url")
        events = params.get("enabled_events")
        if not isinstance(events, list) or not events or not all(isinstance(e, str) and e for e in events):
            raise invalid("Missing required param: enabled_events.", code="parameter_missing", param="enabled_events")
        return add_endpoint(
            self.store,
            url,
            events,
            description=params.get("description"),
            metadata=params.get("metadata"),
            api_version=params.get("api_version"),
        )

    def list_webhook_endpoints(self, params: dict[str, Any]) -> dict[str, Any]:
        check_params(params, LIST_PARAMS)
        shown = [_without_secret(e) for e in reversed(endpoints(self.store))]
        return page(shown, params, "/v1/webhook_endpoints")

    def retrieve_webhook_endpoint(self, endpoint_id: str) -> dict[str, Any]:
        for configured in endpoints(self.store):
            if configured["id"] == endpoint_id:
                return _without_secret(configured)
        raise StripeError(404, f"No such webhook endpoint: '{endpoint_id}'", code="resource_missing", param="id")

    # --- lists ---------------------------------------------------------------------------------

    def list_events(self, params: dict[str, Any]) -> dict[str, Any]:
        """Events newest first; `type` may end in `*` (`payment_intent.*`), `types[]` names several."""
        check_params(params, LIST_PARAMS | {"type", "types", "delivery_success"})
        one, several = params.get("type"), params.get("types")
        if one and several:
            raise invalid("You may only specify one of these parameters: type, types.")
        wanted = [one] if isinstance(one, str) else several if isinstance(several, list) else None
        created = created_filter(params)
        found = [
            event
            for _seq, event in reversed(self.store.events())
            if created(event) and (wanted is None or any(fnmatchcase(event["type"], kind) for kind in wanted))
        ]
        return page(found, params, "/v1/events")

    def list_payment_intents(self, params: dict[str, Any]) -> dict[str, Any]:
        check_params(params, LIST_PARAMS | {"customer"})
        paths = expansions(params, frozenset(f"data.{path}" for path in INTENT_EXPANSIONS))
        created = created_filter(params)
        found = [
            intent
            for intent in self.store.all_of("payment_intent")
            if created(intent) and params.get("customer") in (None, intent["customer"])
        ]
        return expand(page(found, params, "/v1/payment_intents"), paths, self._find)

    def list_refunds(self, params: dict[str, Any]) -> dict[str, Any]:
        check_params(params, LIST_PARAMS | {"payment_intent", "charge"})
        paths = expansions(params, frozenset({"data.charge"}))
        created = created_filter(params)
        found = [
            refund
            for refund in self.store.all_of("refund")
            if created(refund)
            and params.get("payment_intent") in (None, refund["payment_intent"])
            and params.get("charge") in (None, refund["charge"])
        ]
        return expand(page(found, params, "/v1/refunds"), paths, self._find)
