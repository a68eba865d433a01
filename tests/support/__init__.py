"""What tests share: database helpers, factories for orders in each state, HTTP helpers and the
offline Stripe sandbox served over real HTTP. Test modules import from here, never from each other."""
