"""Per-host failures: a stable code (translated where shown) and a detail for the output."""

from flask_babel import lazy_gettext as _l

# code → (host state, message)
ERRORS = {
    "no_address": ("failed", _l("The device has no address (set the SSH host or the IP).")),
    "not_pinned": ("failed", _l("No host key is trusted yet: fetch it and confirm it first.")),
    "unreachable": ("failed", _l("The host refused the connection or cannot be reached.")),
    "connect_timeout": ("timeout", _l("Connecting timed out.")),
    "banner_timeout": ("timeout", _l("The host accepted the connection but sent no SSH banner.")),
    "host_key_changed": ("failed", _l("The host key changed: the host was refused.")),
    "auth_failed": ("failed", _l("The host did not accept the controller's key.")),
    "key_unusable": ("failed", _l("The device's private key cannot be used.")),
    "ssh_error": ("failed", _l("The SSH connection failed.")),
    "command_timeout": ("timeout", _l("The command did not finish in time and was abandoned.")),
    "output_limit": ("failed", _l("The command wrote too much output and was stopped.")),
    "checksum_mismatch": ("failed", _l("The file arrived damaged (checksum differs).")),
    "facts_unreadable": ("failed", _l("The facts could not be read.")),
    "cancelled": ("cancelled", _l("Cancelled.")),
    "interrupted": ("failed", _l("Interrupted: the process running the job stopped.")),
}


class SshError(Exception):
    """A host could not be handled; code is one of ERRORS."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail

    @property
    def state(self) -> str:
        """The host state this failure leaves."""
        return ERRORS[self.code][0]


def error_message(code: str) -> str:
    """The translated message of an error code ("" for none)."""
    return str(ERRORS[code][1]) if code in ERRORS else code
