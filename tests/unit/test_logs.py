import logging

from storefront.logs import RedactSecrets, redact


def test_client_secrets_in_addresses_are_redacted():
    line = (
        '127.0.0.1 - "GET /checkout/return?payment_intent=pi_1&payment_intent_client_secret=pi_1_secret_abc'
        '&redirect_status=succeeded HTTP/1.1" 303'
    )
    assert "pi_1_secret_abc" not in redact(line)
    assert "payment_intent=pi_1&payment_intent_client_secret=[redacted]&redirect_status=succeeded" in redact(line)
    assert redact("/v1/payment_intents/pi_1?key=pk_test_x&client_secret=pi_1_secret_x") == (
        "/v1/payment_intents/pi_1?key=pk_test_x&client_secret=[redacted]"
    )


def test_the_filter_rewrites_a_records_arguments():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s"',
        ("127.0.0.1", "GET", "/r?payment_intent_client_secret=pi_2_secret_y"),
        None,
    )
    RedactSecrets().filter(record)
    assert "_secret_y" not in record.getMessage()
