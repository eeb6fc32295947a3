"""Loopback stub MDM servers for the connector tests: real HTTP, documented shapes.

Each stub is a tiny ``http.server`` in a thread. It serves paged inventory in
the vendor's documented response shape and can be told to misbehave on given
requests: answer 429 with Retry-After, 500, or 401 (the token "expired" on the
server side before the client expected).
"""
from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Stub:
    """Subclass and implement ``route(method, path, query, headers, body)``."""

    def __init__(self):
        self.requests: list[tuple[str, str]] = []     # (method, path?query)
        self.faults: dict[int, tuple] = {}            # n-th data request -> (status, headers, body)
        self.data_requests = 0
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def _do(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = parse_qs(parts.query, keep_blank_values=True)
                with stub.lock:
                    stub.requests.append((method, self.path))
                status, headers, payload = stub.dispatch(method, parts.path, query, self.headers, body)
                if isinstance(payload, (dict, list)):
                    payload = json.dumps(payload).encode()
                    headers = {"Content-Type": "application/json", **headers}
                elif isinstance(payload, str):
                    payload = payload.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                self._do("GET")

            def do_POST(self):
                self._do("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def dispatch(self, method, path, query, headers, body):
        return self.route(method, path, query, headers, body)

    def data_fault(self):
        """Call at the start of each data (non-token) request: a planned fault, or None."""
        with self.lock:
            self.data_requests += 1
            return self.faults.pop(self.data_requests, None)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class TokenIssuer:
    """Bearer tokens that stop working after ``uses`` data requests (server-side expiry)."""

    def __init__(self, uses: int = 10**9, expires_in: int = 1200):
        self.uses = uses
        self.expires_in = expires_in
        self.issued = 0
        self.left: dict[str, int] = {}

    def issue(self) -> dict:
        self.issued += 1
        tok = f"tok-{self.issued}"
        self.left[tok] = self.uses
        return {"access_token": tok, "token_type": "Bearer", "expires_in": self.expires_in}

    def check(self, headers) -> bool:
        auth = headers.get("Authorization") or ""
        tok = auth[7:] if auth.startswith("Bearer ") else None
        if tok not in self.left or self.left[tok] <= 0:
            return False
        self.left[tok] -= 1
        return True


def form(body: bytes) -> dict:
    return {k: v[0] for k, v in parse_qs(body.decode()).items()}


def basic(headers) -> tuple[str, str] | None:
    auth = headers.get("Authorization") or ""
    if not auth.startswith("Basic "):
        return None
    user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
    return user, pw


UNAUTHORIZED = (401, {}, {"httpStatus": 401, "errors": [{"code": "INVALID_TOKEN"}]})


class JamfStub(Stub):
    def __init__(self, computers, mobiles, *, token_uses=10**9, client_secret="s3cret"):
        super().__init__()
        self.computers = computers
        self.mobiles = mobiles
        self.tokens = TokenIssuer(token_uses)
        self.client_secret = client_secret
        self.v3 = True
        self.mobile_status = 200

    def route(self, method, path, query, headers, body):
        if path == "/api/oauth/token" and method == "POST":
            f = form(body)
            if f.get("grant_type") != "client_credentials" or f.get("client_secret") != self.client_secret:
                return 401, {}, {"error": "invalid_client"}
            return 200, {}, self.tokens.issue()
        if not self.tokens.check(headers):
            return UNAUTHORIZED
        fault = self.data_fault()
        if fault:
            return fault
        if path == "/api/v3/computers-inventory" and not self.v3:
            return 404, {}, {"httpStatus": 404, "errors": []}
        if path in ("/api/v3/computers-inventory", "/api/v1/computers-inventory"):
            return 200, {}, self.page(self.computers, query)
        if path == "/api/v2/mobile-devices/detail":
            if self.mobile_status != 200:
                return self.mobile_status, {}, {"httpStatus": self.mobile_status, "errors": []}
            return 200, {}, self.page(self.mobiles, query)
        return 404, {}, {"httpStatus": 404}

    # ?section=X names the parts of each record Jamf returns; the others are left out
    SECTIONS = {"GENERAL": "general", "HARDWARE": "hardware", "OPERATING_SYSTEM": "operatingSystem",
                "DISK_ENCRYPTION": "diskEncryption", "SECURITY": "security",
                "USER_AND_LOCATION": "userAndLocation", "PURCHASING": "purchasing",
                "APPLICATIONS": "applications", "NETWORK": "network"}

    @classmethod
    def page(cls, items, query):
        page = int(query["page"][0])
        size = int(query["page-size"][0])
        wanted = {cls.SECTIONS.get(s, s) for s in query.get("section", [])}
        every = set(cls.SECTIONS.values())

        def cut(item):
            if not isinstance(item, dict):
                return item
            return {k: v for k, v in item.items() if k not in every or k in wanted}
        return {"totalCount": len(items), "results": [cut(i) for i in items[page * size:(page + 1) * size]]}


class IntuneStub(Stub):
    def __init__(self, devices, *, page_size=3, tenant="contoso-tenant", token_uses=10**9):
        super().__init__()
        self.devices = devices
        self.page_size = page_size
        self.tenant = tenant
        self.tokens = TokenIssuer(token_uses, expires_in=3599)
        self.token_forms: list[dict] = []

    def route(self, method, path, query, headers, body):
        if path == f"/{self.tenant}/oauth2/v2.0/token" and method == "POST":
            f = form(body)
            self.token_forms.append(f)
            if f.get("grant_type") != "client_credentials":
                return 400, {}, {"error": "unsupported_grant_type"}
            return 200, {}, self.tokens.issue()
        if not self.tokens.check(headers):
            return 401, {}, {"error": {"code": "InvalidAuthenticationToken", "message": "expired"}}
        fault = self.data_fault()
        if fault:
            return fault
        if path == "/v1.0/deviceManagement/managedDevices":
            skip = int(query.get("$skiptoken", ["0"])[0])
            chunk = self.devices[skip:skip + self.page_size]
            body = {"@odata.context": f"{self.url}/v1.0/$metadata#deviceManagement/managedDevices",
                    "value": chunk}
            if skip + self.page_size < len(self.devices):
                body["@odata.nextLink"] = (f"{self.url}/v1.0/deviceManagement/managedDevices"
                                           f"?$skiptoken={skip + self.page_size}")
            return 200, {}, body
        return 404, {}, {"error": {"code": "ResourceNotFound"}}


class GoogleStub(Stub):
    def __init__(self, mobiles, chromeos, public_key, *, admin="admin@example.com", devices=None):
        super().__init__()
        self.mobiles = mobiles
        self.chromeos = chromeos
        self.devices = devices or []
        self.public_key = public_key
        self.admin = admin
        self.tokens = TokenIssuer()
        self.claims: list[dict] = []
        self.page_sizes: dict[str, list[int]] = {}

    def _verify(self, assertion: str) -> dict | None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        head, claims, sig = assertion.split(".")
        pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
        try:
            self.public_key.verify(base64.urlsafe_b64decode(pad(sig)), f"{head}.{claims}".encode(),
                                   padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return None
        return json.loads(base64.urlsafe_b64decode(pad(claims)))

    def route(self, method, path, query, headers, body):
        if path == "/token" and method == "POST":
            f = form(body)
            claims = self._verify(f.get("assertion", ""))
            if f.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or not claims \
                    or claims.get("sub") != self.admin or claims.get("aud") != f"{self.url}/token":
                return 400, {}, {"error": "invalid_grant"}
            self.claims.append(claims)
            return 200, {}, self.tokens.issue()
        if not self.tokens.check(headers):
            return 401, {}, {"error": {"code": 401, "message": "Invalid Credentials"}}
        fault = self.data_fault()
        if fault:
            return fault
        base = "/admin/directory/v1/customer/my_customer/devices/"
        if path == base + "mobile":
            return 200, {}, self.page("mobile", self.mobiles, query, "maxResults", "mobiledevices",
                                      {"kind": "admin#directory#mobiledevices"})
        if path == base + "chromeos":
            return 200, {}, self.page("chromeos", self.chromeos, query, "maxResults", "chromeosdevices",
                                      {"kind": "admin#directory#chromeosdevices"})
        if path == "/v1/devices":
            return 200, {}, self.page("ci", self.devices, query, "pageSize", "devices", {})
        return 404, {}, {"error": {"code": 404, "message": "Not Found"}}

    def page(self, name, items, query, size_param, key, extra):
        size = int(query[size_param][0])
        self.page_sizes.setdefault(name, []).append(size)
        start = int(query.get("pageToken", ["0"])[0] or 0)
        body = dict(extra, **{key: items[start:start + size]})
        if start + size < len(items):
            body["nextPageToken"] = str(start + size)
        return body


DATASET_HEAD = """<?xml version="1.0" encoding="utf-8"?>
<DataSet xmlns="http://landesk.com/MBSDKService/MBSDK/">
  <xs:schema id="NewDataSet" xmlns="" xmlns:xs="http://www.w3.org/2001/XMLSchema"
      xmlns:msdata="urn:schemas-microsoft-com:xml-msdata">
    <xs:element name="NewDataSet" msdata:IsDataSet="true"><xs:complexType><xs:choice>
      <xs:element name="Table"><xs:complexType><xs:sequence>
        <xs:element name="Device_x0020_Name" type="xs:string" minOccurs="0" />
      </xs:sequence></xs:complexType></xs:element>
    </xs:choice></xs:complexType></xs:element>
  </xs:schema>
  <diffgr:diffgram xmlns:msdata="urn:schemas-microsoft-com:xml-msdata"
      xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1">
    <NewDataSet xmlns="">
"""
DATASET_TAIL = """    </NewDataSet>
  </diffgr:diffgram>
</DataSet>
"""


def dataset_xml(rows: list[dict]) -> str:
    from xml.sax.saxutils import escape
    out = [DATASET_HEAD]
    for n, row in enumerate(rows):
        out.append(f'      <Table diffgr:id="Table{n + 1}" msdata:rowOrder="{n}">\n')
        for k, v in row.items():
            tag = k.replace(" ", "_x0020_").replace(".", "_x002E_")
            out.append(f"        <{tag}>{escape(str(v))}</{tag}>\n")
        out.append("      </Table>\n")
    out.append(DATASET_TAIL)
    return "".join(out)


class IvantiStub(Stub):
    def __init__(self, rows, *, user="epm\\checkup", password="pw"):
        super().__init__()
        self.rows = rows
        self.user = user
        self.password = password
        self.raw: str | None = None

    def route(self, method, path, query, headers, body):
        if basic(headers) != (self.user, self.password):
            return 401, {"WWW-Authenticate": "Basic"}, "Unauthorized"
        fault = self.data_fault()
        if fault:
            return fault
        if path == "/MBSDKService/MsgSDK.asmx/RunQuery":
            if query.get("queryName", [""])[0] != "Checkup inventory":
                return 500, {"Content-Type": "text/plain"}, "System.Web.Services.Protocols.SoapException"
            return 200, {"Content-Type": "text/xml; charset=utf-8"}, self.raw or dataset_xml(self.rows)
        return 404, {}, "Not Found"


# -- people, phones, tablets and Chromebooks in each vendor's real shape ------------------
#
# One small fleet for example.com: Alice has a Mac, an iPhone, an iPad, a Windows laptop, an
# Android phone and a Chromebook; Bob's records name him in ways that cannot be mapped;
# the rest are the ugly ones (missing sections, odd OS strings, guests, empty users). Each
# builder returns what the vendor's API returns for one record.

PEOPLE_SYNC = "2026-11-30T09:15:00Z"


def jamf_people_computers():
    """GET /api/v3/computers-inventory results (sections GENERAL, HARDWARE, USER_AND_LOCATION...)."""
    def mac(n, name, user_and_location, **over):
        rec = {"id": str(100 + n), "udid": f"5A1C{n:04X}-1111-2222-3333-{n:012X}",
               "general": {"name": name, "reportDate": PEOPLE_SYNC, "platform": "Mac"},
               "hardware": {"serialNumber": f"C02PPL{n:04d}", "macAddress": f"3C:22:FB:10:00:{n:02X}",
                            "model": "MacBook Air (M2, 2022)"},
               "operatingSystem": {"name": "macOS", "version": "15.1", "build": "24B83"},
               "diskEncryption": {"bootPartitionEncryptionDetails": {"partitionFileVault2State": "ENCRYPTED"}},
               "security": {"sipStatus": "ENABLED", "gatekeeperStatus": "APP_STORE_AND_IDENTIFIED_DEVELOPERS",
                            "firewallEnabled": True}}
        if user_and_location is not None:
            rec["userAndLocation"] = user_and_location
        rec.update(over)
        return rec
    return [
        mac(1, "alice-mba", {"username": "alice", "realname": "Alice Example", "email": "Alice@Example.com",
                             "position": "", "phone": ""}),
        mac(2, "bob-mba", {"username": "bob", "realname": "Bob", "email": ""}),          # no email
        mac(3, "carol-mba", {"username": "carol@example.com", "email": None}),           # UPN as username
        mac(4, "lab-mac", None,                                                          # no section at all
            diskEncryption={"bootPartitionEncryptionDetails": {"partitionFileVault2State": "ENCRYPTING"}}),
    ]


def jamf_people_mobiles():
    """GET /api/v2/mobile-devices/detail results (MobileDeviceInventory: deviceType, general,
    hardware, security, userAndLocation)."""
    def device(n, dev_type, general, hardware, security, user):
        rec = {"mobileDeviceId": str(200 + n), "deviceType": dev_type,
               "general": {"udid": f"00008110-{n:016X}", "lastInventoryUpdateDate": PEOPLE_SYNC, **general},
               "hardware": {"serialNumber": f"F2LPPL{n:04d}", "wifiMacAddress": f"BC:D0:74:20:00:{n:02X}",
                            **hardware}}
        if security is not None:
            rec["security"] = security
        if user is not None:
            rec["userAndLocation"] = user
        return rec
    secure = {"dataProtected": True, "blockLevelEncryptionCapable": True, "fileLevelEncryptionCapable": True,
              "passcodePresent": True, "passcodeCompliant": True, "passcodeCompliantWithProfile": True,
              "hardwareEncryption": 3, "activationLockEnabled": True, "jailBreakDetected": False,
              "lostModeEnabled": False}
    return [
        device(1, "iOS", {"displayName": "Alice's iPhone", "osVersion": "26.1", "osBuild": "23B85"},
               {"model": "iPhone 16 Pro", "modelIdentifier": "iPhone17,1"}, secure,
               {"username": "alice", "realName": "Alice Example", "emailAddress": "alice@example.com"}),
        device(2, "iOS", {"displayName": "Alice's iPad", "osVersion": "18.6.2", "osBuild": "22G100"},
               {"model": "iPad Pro (11-inch) (4th generation)", "modelIdentifier": "iPad14,3"},
               dict(secure, passcodePresent=False, dataProtected=False, passcodeCompliant=False),
               {"username": "alice", "emailAddress": "ALICE@example.com"}),
        device(3, "iOS", {"displayName": "Bob's iPhone", "osVersion": "17.5.1"},
               {"model": "iPhone 12", "modelIdentifier": "iPhone13,2"},
               dict(secure, jailBreakDetected=True), {"username": "bob", "emailAddress": ""}),
        # the security section exists only for iOS devices; an Apple TV has none
        device(4, "tvOS", {"displayName": "Meeting room TV", "osVersion": "18.1"},
               {"model": "Apple TV 4K (3rd generation)", "modelIdentifier": "AppleTV14,1"}, None, {}),
        # not inventoried yet: no security section, an odd OS string, a non-email user
        device(5, "iOS", {"displayName": "New iPhone", "osVersion": "iOS 26"},
               {"model": "iPhone 15", "modelIdentifier": "iPhone15,4"}, None,
               {"username": "Dave Smith", "emailAddress": "not-an-email"}),
    ]


def intune_people_devices():
    """GET /v1.0/deviceManagement/managedDevices values, every operatingSystem."""
    def d(n, os, version, model, upn, **over):
        rec = {"id": f"a1b2c3d4-0000-4000-8000-{n:012d}", "deviceName": f"DEV-{n}", "operatingSystem": os,
               "osVersion": version, "model": model, "manufacturer": "", "serialNumber": f"INTPPL{n:04d}",
               "userPrincipalName": upn, "userDisplayName": "", "emailAddress": upn,
               "isEncrypted": True, "jailBroken": "False", "complianceState": "compliant",
               "lastSyncDateTime": "2026-11-30T08:01:02.1234567Z", "managementAgent": "mdm",
               "managedDeviceOwnerType": "company", "wiFiMacAddress": f"A4B1C1{n:06X}"}
        rec.update(over)
        return rec
    return [
        d(1, "Windows", "10.0.26100.2314", "Latitude 7450", "Alice@Example.com", deviceName="ALICE-LAT",
          jailBroken="Unknown"),
        d(2, "iOS", "26.1", "iPhone 16", "alice@example.com", deviceName="Alice's iPhone"),
        d(3, "iOS", "18.7.1", "iPad Air (5th generation)", "alice@example.com", deviceName="Alice's iPad"),
        d(4, "iPadOS", "26.0.1", "iPad (10th generation)", "bob@example.com", isEncrypted=False,
          complianceState="noncompliant"),
        d(5, "Android", "14", "Pixel 8", "alice@example.com", jailBroken="True", deviceName="Pixel 8"),
        d(6, "AndroidForWork", "15", "Galaxy Tab S9", "carol@example.com", jailBroken="Unknown",
          complianceState="inGracePeriod"),
        d(7, "macOS", "15.1 (24B83)", "MacBook Pro (14-inch, 2024)", "carol@example.com", jailBroken="Unknown"),
        d(8, "Linux", "24.04", "ThinkPad X1 Carbon", "dave@example.com", jailBroken="Unknown",
          isEncrypted=None),
        d(9, "ChromeOS", "130.0.6723.126", "Chromebook Plus", "dave@example.com", jailBroken="Unknown"),
        # ugly: a kiosk without a user, an Entra guest, an OS nobody knows, a missing jailBroken
        d(10, "Windows", "10.0.19045.5131", "OptiPlex 7010", "", deviceName="KIOSK-1"),
        d(11, "iOS", "17.6", "iPhone 13", "alice_gmail.com#EXT#@contoso.onmicrosoft.com"),
        d(12, "Unknown", "", "", "eve@example.com", jailBroken=None, isEncrypted=None,
          complianceState="somethingNew"),
    ]


def google_people_mobiles():
    """GET .../devices/mobile?projection=FULL mobiledevices (values as real accounts return them)."""
    def m(n, **fields):
        rec = {"kind": "admin#directory#mobiledevice", "resourceId": f"AFiQxQ8PPL{n:04d}",
               "deviceId": f"ppl-{n}", "serialNumber": f"R5CPPL{n:04d}", "status": "APPROVED",
               "lastSync": PEOPLE_SYNC, "firstSync": "2025-01-10T10:00:00.000Z", "wifiMacAddress": "",
               "name": [f"Owner {n}"]}
        rec.update(fields)
        return rec
    return [
        m(1, model="Pixel 8", os="Android 15", type="ANDROID", devicePasswordStatus="On",
          encryptionStatus="Encrypted", deviceCompromisedStatus="No compromise detected",
          email=["alice@example.com", "alice@example.com.test-google-a.com"], name=["Alice Example"],
          releaseVersion="15", securityPatchLevel="1730419200000"),
        # what an iPhone synced with a Google account reports: no OS, no serial, no encryption
        m(2, model="iPhone10,6", os="", type="IOS_SYNC", serialNumber="", devicePasswordStatus="On",
          encryptionStatus="", deviceCompromisedStatus="Undetected", email=["alice@example.com"]),
        m(3, model="SM-G991B", os="Android 13", type="ANDROID", devicePasswordStatus="Off",
          encryptionStatus="Not encrypted", deviceCompromisedStatus="Compromised",
          email=["Bob@Example.com"], name=["Bob"]),
        m(4, model="iPad13,1", os="iOS 17.5.1", type="IOS_SYNC", devicePasswordStatus="On",
          encryptionStatus="Encrypted", deviceCompromisedStatus="Undetected", email=["carol@example.com"]),
        # ugly: no email at all, a generic sync client, words nobody documented
        m(5, model="", os="", type="GOOGLE_SYNC", devicePasswordStatus="Unknown",
          encryptionStatus="Unsupported", deviceCompromisedStatus="", email=[]),
        # a Windows phone is not the Windows the agent runs on
        m(6, model="Lumia 950", os="Windows Phone 10.0.14393", type="WINDOWS_MOBILE",
          devicePasswordStatus="On", encryptionStatus="", deviceCompromisedStatus="",
          email=["eve@example.com"]),
    ]


def google_people_chromebooks():
    """GET .../devices/chromeos?projection=FULL chromeosdevices."""
    def c(n, **fields):
        rec = {"kind": "admin#directory#chromeosdevice", "deviceId": f"cros-ppl-{n}",
               "serialNumber": f"NXPPL{n:05d}", "status": "ACTIVE", "lastSync": PEOPLE_SYNC,
               "model": "HP Chromebook Plus x360", "osVersion": "150.0.7600.80", "platformVersion": "16300.1.0",
               "firmwareVersion": "Google_Taeko.14500.0.0", "macAddress": f"00e04c{n:06x}",
               "bootMode": "Verified", "orgUnitPath": "/Staff", "autoUpdateExpiration": "1893456000000"}
        rec.update(fields)
        return rec
    return [
        c(1, annotatedUser="alice@example.com",
          recentUsers=[{"type": "USER_TYPE_MANAGED", "email": "alice@example.com"}]),
        c(2, recentUsers=[{"type": "USER_TYPE_MANAGED", "email": "bob@example.com"}],
          osVersion="138.0.7204.221"),                                         # nobody assigned
        c(3, annotatedUser="Bob (3rd floor)", bootMode="Dev", osVersion="ChromeOS"),  # not an email, dev mode
    ]


def ivanti_people_rows():
    """RunQuery rows (the saved query's columns)."""
    def r(n, login, os="Microsoft Windows 11 Enterprise", version="10.0.26100", **over):
        row = {"Device ID": f"{{7C2B{n:04d}-0000-0000-0000-000000000000}}", "Device Name": f"PC-PPL-{n}",
               "Serial Number": f"5CGPPL{n:04d}", "MAC Address": f"00:1A:2B:10:00:{n:02X}",
               "OS Name": os, "OS Version": version, "Last Inventory Scan Date": "2026-11-30T06:12:00",
               "Login Name": login, "Model": "HP EliteBook 840 G10", "Encrypted": "Fully Encrypted"}
        row.update(over)
        return row
    return [
        r(1, "CORP\\alice"),
        r(2, "bob", Encrypted="Protection Off"),
        r(3, "dave@Example.com", Encrypted="Suspended"),
        r(4, ""),
        r(5, "CORP\\Carol Smith", os="Apple iOS", version="26.1", Model="iPhone 15"),
    ]


def people_stubs(public_key):
    """The four stubs serving the people fleet (close them with .close())."""
    return {"jamf": JamfStub(jamf_people_computers(), jamf_people_mobiles()),
            "intune": IntuneStub(intune_people_devices(), page_size=5),
            "google": GoogleStub(google_people_mobiles(), google_people_chromebooks(), public_key),
            "ivanti": IvantiStub(ivanti_people_rows())}
