"""The offline Stripe sandbox: a stateful emulator of the slice of Stripe the shop uses (TWINT
PaymentIntents, refunds, events), driven by the real `stripe` library and Stripe.js contract.
What it reproduces, with Stripe's public sources: the PaymentIntent status machine
(https://docs.stripe.com/payments/paymentintents/lifecycle), the API's shapes, errors and
idempotency (https://docs.stripe.com/api), and events and their signatures
(https://docs.stripe.com/webhooks). It imports nothing of the shop."""
