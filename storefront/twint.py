"""What TWINT through Stripe accepts, written once: the routes, the templates and the order
lifecycle read it from here. Source: https://docs.stripe.com/payments/twint (and docs/payments.md)."""

from __future__ import annotations

CURRENCY = "chf"  # TWINT takes Swiss francs only
MIN_AMOUNT = 50  # Rappen: CHF 0.50, the least Stripe charges in CHF
MAX_AMOUNT = 500_000  # Rappen: CHF 5'000, the most one TWINT payment through Stripe may be
WINDOW_MINUTES = 15  # TWINT's payment page gives up after this long; unpaid orders are settled then
