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

    @staticmethod
    def page(items, query):
        page = int(query["page"][0])
        size = int(query["page-size"][0])
        return {"totalCount": len(items), "results": items[page * size:(page + 1) * size]}


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
