"""The offline Stripe sandbox: a stateful emulator of the slice of Stripe the shop uses (TWINT
PaymentIntents, refunds, events), driven by the real `stripe` library and Stripe.js contract.
Facts it reproduces, with sources: reference/stripe-twint.md (§1.2 status machine, §2 API, §3
events)."""
