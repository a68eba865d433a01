"""The Stripe adapter: the client that creates, reads and cancels PaymentIntents, and the webhook
endpoint. It knows Stripe and hands what Stripe reports to the order lifecycle
(`storefront.orders.lifecycle`); it holds no order rules."""
