"""The sandbox's TWINT page in the languages of Switzerland and English, chosen by the browser's
Accept-Language as TWINT's own page is (the sandbox shares no code with the shop)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "TWINT test payment",
        "banner": "Sandbox: TWINT test payment. No money moves.",
        "heading": "Pay with TWINT",
        "merchant": "Merchant",
        "amount": "Amount",
        "for": "For",
        "closed": "You closed TWINT without returning to the shop. You can close this window.",
        "qr": "QR code to scan with the TWINT app",
        "scan_before": "Scan the QR code with the TWINT app, or enter the code",
        "scan_after": "in the app.",
        "on_phone": "Pay with the TWINT app on this phone.",
        "open_app": "Open the TWINT app",
        "app": "TWINT app",
        "confirm": "Confirm {amount} to {merchant}.",
        "authorize": "Authorize test payment",
        "fail": "Fail test payment",
        "cancel": "Cancel",
        "close": "Close without returning",
        "status": "This payment is {status}.",
        "unknown_action": "Unknown action.",
        "moved_on": "This payment is no longer waiting for you.",
    },
    "de": {
        "title": "TWINT-Testzahlung",
        "banner": "Sandbox: TWINT-Testzahlung. Es fliesst kein Geld.",
        "heading": "Mit TWINT bezahlen",
        "merchant": "Händler",
        "amount": "Betrag",
        "for": "Für",
        "closed": "Sie haben TWINT geschlossen, ohne zum Shop zurückzukehren. Sie können dieses Fenster schliessen.",
        "qr": "QR-Code zum Scannen mit der TWINT-App",
        "scan_before": "Scannen Sie den QR-Code mit der TWINT-App oder geben Sie den Code",
        "scan_after": "in der App ein.",
        "on_phone": "Mit der TWINT-App auf diesem Telefon bezahlen.",
        "open_app": "TWINT-App öffnen",
        "app": "TWINT-App",
        "confirm": "{amount} an {merchant} bestätigen.",
        "authorize": "Testzahlung bestätigen",
        "fail": "Testzahlung scheitern lassen",
        "cancel": "Abbrechen",
        "close": "Schliessen ohne Rückkehr",
        "status": "Diese Zahlung ist {status}.",
        "unknown_action": "Unbekannte Aktion.",
        "moved_on": "Diese Zahlung wartet nicht mehr auf Sie.",
    },
    "fr": {
        "title": "Paiement test TWINT",
        "banner": "Sandbox\u00a0: paiement test TWINT. Aucun argent n’est transféré.",
        "heading": "Payer avec TWINT",
        "merchant": "Commerçant",
        "amount": "Montant",
        "for": "Pour",
        "closed": "Vous avez fermé TWINT sans revenir à la boutique. Vous pouvez fermer cette fenêtre.",
        "qr": "Code QR à scanner avec l’app TWINT",
        "scan_before": "Scannez le code QR avec l’app TWINT ou saisissez le code",
        "scan_after": "dans l’app.",
        "on_phone": "Payer avec l’app TWINT sur ce téléphone.",
        "open_app": "Ouvrir l’app TWINT",
        "app": "App TWINT",
        "confirm": "Confirmer {amount} à {merchant}.",
        "authorize": "Autoriser le paiement test",
        "fail": "Faire échouer le paiement test",
        "cancel": "Annuler",
        "close": "Fermer sans revenir",
        "status": "Ce paiement est {status}.",
        "unknown_action": "Action inconnue.",
        "moved_on": "Ce paiement ne vous attend plus.",
    },
    "it": {
        "title": "Pagamento di prova TWINT",
        "banner": "Sandbox: pagamento di prova TWINT. Nessun denaro viene trasferito.",
        "heading": "Pagare con TWINT",
        "merchant": "Commerciante",
        "amount": "Importo",
        "for": "Per",
        "closed": "Ha chiuso TWINT senza tornare allo shop. Può chiudere questa finestra.",
        "qr": "Codice QR da scansionare con l’app TWINT",
        "scan_before": "Scansioni il codice QR con l’app TWINT o inserisca il codice",
        "scan_after": "nell’app.",
        "on_phone": "Pagare con l’app TWINT su questo telefono.",
        "open_app": "Aprire l’app TWINT",
        "app": "App TWINT",
        "confirm": "Confermare {amount} a {merchant}.",
        "authorize": "Autorizzare il pagamento di prova",
        "fail": "Far fallire il pagamento di prova",
        "cancel": "Annullare",
        "close": "Chiudere senza tornare",
        "status": "Questo pagamento è {status}.",
        "unknown_action": "Azione sconosciuta.",
        "moved_on": "Questo pagamento non la sta più aspettando.",
    },
}


def page_language(accept_language: str | None) -> str:
    """The first of the browser's languages the page is written in, else English."""
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        if params.strip() in {"q=0", "q=0.0"}:
            continue
        primary = tag.strip().lower().split("-")[0]
        if primary in TEXTS:
            return primary
    return "en"
