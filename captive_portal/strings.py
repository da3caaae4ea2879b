"""The portal's own Polish and English strings (the visitor picks the language).

A small dictionary rather than a Babel catalogue: the portal ships alone on each gateway,
has a few dozen strings, and tests check that both languages have every key.
"""

LANGUAGES = ("pl", "en")
DEFAULT = "pl"

TEXT = {
    "pl": {
        "title": "Bezpłatny internet",
        "welcome": "Witamy w publicznym punkcie dostępu do internetu.",
        "language": "English",
        "terms_heading": "Regulamin",
        "terms_default": "Korzystając z sieci, akceptujesz zasady korzystania z publicznego "
        "punktu dostępu do internetu urzędu.",
        "accept": "Akceptuję regulamin",
        "voucher_heading": "Mam kod dostępu",
        "voucher_label": "Kod dostępu",
        "voucher_hint": "Kod z kartki otrzymanej w urzędzie, np. ABCD-1234.",
        "voucher_submit": "Połącz z kodem",
        "click_heading": "Bez kodu",
        "click_submit": "Połącz bez kodu",
        "status_title": "Jesteś w sieci",
        "time_left": "Pozostały czas",
        "data_left": "Pozostałe dane",
        "unlimited": "bez limitu",
        "logout": "Wyloguj",
        "logged_out": "Wylogowano. Dziękujemy!",
        "back": "Wróć do strony logowania",
        "error_heading": "Nie udało się połączyć",
        "offline_note": "Połączenie z centralą jest chwilowo niedostępne; sesja zostanie "
        "rozliczona później.",
        "voucher_unknown": "Nie znamy tego kodu. Sprawdź, czy został wpisany poprawnie.",
        "voucher_used_up": "Ten kod został już wykorzystany.",
        "voucher_expired": "Ten kod stracił ważność.",
        "voucher_devices": "Z tego kodu korzysta już największa dozwolona liczba urządzeń.",
        "daily_quota_reached": "Wykorzystano dzisiejszy limit czasu. Zapraszamy jutro.",
        "outside_opening_hours": "Sieć działa tylko w godzinach otwarcia urzędu.",
        "method_not_allowed": "Ten sposób logowania nie jest tu dostępny.",
        "terms_not_accepted": "Aby się połączyć, zaakceptuj regulamin.",
        "too_many_attempts": "Zbyt wiele nieudanych prób. Spróbuj ponownie za {seconds} s.",
        "client_unknown": "Nie możemy rozpoznać Twojego urządzenia. Połącz się ponownie z "
        "siecią Wi-Fi i spróbuj jeszcze raz.",
        "controller_unreachable": "Logowanie jest chwilowo niedostępne. Spróbuj za chwilę.",
        "gateway_unavailable": "Logowanie jest chwilowo niedostępne. Spróbuj za chwilę.",
        "bad_form": "Formularz wygasł lub jest niepełny. Spróbuj jeszcze raz.",
        "too_large": "Przesłano zbyt dużo danych.",
        "refused": "Nie udało się połączyć. Spróbuj jeszcze raz lub poproś o pomoc w urzędzie.",
        "not_found": "Nie ma takiej strony.",
    },
    "en": {
        "title": "Free internet",
        "welcome": "Welcome to the public internet access point.",
        "language": "Polski",
        "terms_heading": "Terms of use",
        "terms_default": "By using this network you accept the office's rules for its public "
        "internet access point.",
        "accept": "I accept the terms of use",
        "voucher_heading": "I have an access code",
        "voucher_label": "Access code",
        "voucher_hint": "The code on the slip from the office, e.g. ABCD-1234.",
        "voucher_submit": "Connect with the code",
        "click_heading": "Without a code",
        "click_submit": "Connect without a code",
        "status_title": "You are online",
        "time_left": "Time left",
        "data_left": "Data left",
        "unlimited": "no limit",
        "logout": "Log out",
        "logged_out": "You are logged out. Thank you!",
        "back": "Back to the login page",
        "error_heading": "Could not connect",
        "offline_note": "The central server cannot be reached right now; the session will be "
        "accounted for later.",
        "voucher_unknown": "We do not know this code. Please check that it is typed correctly.",
        "voucher_used_up": "This code has already been used.",
        "voucher_expired": "This code has expired.",
        "voucher_devices": "The largest allowed number of devices already use this code.",
        "daily_quota_reached": "Today's time limit is used up. Welcome back tomorrow.",
        "outside_opening_hours": "The network works only during the office's opening hours.",
        "method_not_allowed": "This way of logging in is not available here.",
        "terms_not_accepted": "To connect, please accept the terms of use.",
        "too_many_attempts": "Too many failed attempts. Try again in {seconds} s.",
        "client_unknown": "We cannot identify your device. Reconnect to the Wi-Fi network and "
        "try again.",
        "controller_unreachable": "Logging in is unavailable right now. Try again in a moment.",
        "gateway_unavailable": "Logging in is unavailable right now. Try again in a moment.",
        "bad_form": "The form expired or is incomplete. Please try again.",
        "too_large": "Too much data was sent.",
        "refused": "Could not connect. Try again or ask the office staff for help.",
        "not_found": "There is no such page.",
    },
}

# The HTTP status of each refusal the visitor can see.
STATUS = {
    "too_many_attempts": 429,
    "bad_form": 400,
    "too_large": 413,
    "not_found": 404,
    "controller_unreachable": 503,
    "gateway_unavailable": 503,
}


def text(language: str) -> dict[str, str]:
    """The strings of one language (Polish when the language is unknown)."""
    return TEXT.get(language, TEXT[DEFAULT])
