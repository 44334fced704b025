"""The villagers' touch-screen kiosk (自助查询机): its own blueprint, device token plus household PIN.

`bp` (/kiosk) is what the touch screen shows; `admin_bp` (/kiosk-admin) is the clerk's side: devices,
household PINs and printed household cards.
"""
from flask import Blueprint

bp = Blueprint("kiosk", __name__)
admin_bp = Blueprint("kiosk_admin", __name__)
