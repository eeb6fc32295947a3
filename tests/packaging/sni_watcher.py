"""A StatusNotifierWatcher on the session bus: the part of a desktop panel (GNOME's AppIndicator
extension, KDE Plasma, Xfce's status notifier plugin) that AppIndicator tray icons register
with. Run as a script it owns org.kde.StatusNotifierWatcher, says it has a host (so
libayatana-appindicator shows its icon there instead of falling back to an XEmbed one), and
prints one line per registered item: "registered UNIQUE_NAME OBJECT_PATH".
"""
from __future__ import annotations

import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

XML = """<node><interface name="org.kde.StatusNotifierWatcher">
  <method name="RegisterStatusNotifierItem"><arg type="s" direction="in"/></method>
  <method name="RegisterStatusNotifierHost"><arg type="s" direction="in"/></method>
  <property name="RegisteredStatusNotifierItems" type="as" access="read"/>
  <property name="IsStatusNotifierHostRegistered" type="b" access="read"/>
  <property name="ProtocolVersion" type="i" access="read"/>
  <signal name="StatusNotifierItemRegistered"><arg type="s"/></signal>
  <signal name="StatusNotifierItemUnregistered"><arg type="s"/></signal>
  <signal name="StatusNotifierHostRegistered"/>
</interface></node>"""

items: list[str] = []


def on_call(conn, sender, path, iface, method, params, invocation):
    if method == "RegisterStatusNotifierItem":
        (service,) = params.unpack()
        # Items register an object path (sender is the bus name) or a bus name (path default).
        name, obj = (sender, service) if service.startswith("/") else (service, "/StatusNotifierItem")
        items.append(f"{name}{obj}")
        print(f"registered {name} {obj}", flush=True)
        conn.emit_signal(None, path, iface, "StatusNotifierItemRegistered",
                         GLib.Variant("(s)", (f"{name}{obj}",)))
    invocation.return_value(None)


def on_get(conn, sender, path, iface, prop):
    return {"RegisteredStatusNotifierItems": GLib.Variant("as", items),
            "IsStatusNotifierHostRegistered": GLib.Variant("b", True),
            "ProtocolVersion": GLib.Variant("i", 0)}[prop]


def main() -> int:
    loop = GLib.MainLoop()
    node = Gio.DBusNodeInfo.new_for_xml(XML)

    def on_bus(conn, name):
        conn.register_object("/StatusNotifierWatcher", node.interfaces[0], on_call, on_get, None)

    Gio.bus_own_name(Gio.BusType.SESSION, "org.kde.StatusNotifierWatcher", Gio.BusNameOwnerFlags.NONE,
                     on_bus, lambda conn, name: print("ready", flush=True),
                     lambda conn, name: (print("lost the name", flush=True), loop.quit()))
    loop.run()
    return 1


if __name__ == "__main__":
    sys.exit(main())
