"""A real SAML 2.0 IdP for the end-to-end tests, built on pysaml2 (which signs through xmlsec1).

Usage: idp.py --port P --key K --cert C --sp-metadata FILE --users USERS.json
Endpoints (base http://127.0.0.1:P):
  GET  /metadata            this IdP's metadata
  GET  /sso/redirect        AuthnRequest by HTTP-Redirect: shows the login form
  POST /sso/post            AuthnRequest by HTTP-POST: shows the login form
  POST /login               checks the password; answers with the auto-POST form to the SP's ACS
  GET  /healthz             200 once started
USERS.json: {"alice": {"password": "...", "email": "...", "groups": ["a", "b"]}, ...}
The test-only key and certificate are made by the test harness (openssl) for each run.
"""

import argparse
import html
import json
import logging
import sys
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, xmldsig
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_UNSPECIFIED, NameID
from saml2.server import Server

log = logging.getLogger("saml-idp")


def build_server(args):
    base = f"http://127.0.0.1:{args.port}"
    conf = IdPConfig()
    conf.load(
        {
            "entityid": f"{base}/metadata",
            "service": {
                "idp": {
                    "name": "Gatehouse test IdP",
                    "endpoints": {
                        "single_sign_on_service": [
                            (f"{base}/sso/redirect", BINDING_HTTP_REDIRECT),
                            (f"{base}/sso/post", BINDING_HTTP_POST),
                        ]
                    },
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": 5},
                            "attribute_restrictions": None,
                            "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
                        }
                    },
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_UNSPECIFIED],
                    "want_authn_requests_signed": False,
                }
            },
            "key_file": args.key,
            "cert_file": args.cert,
            "metadata": {"local": [args.sp_metadata]},
            "xmlsec_binary": args.xmlsec1,
            "attribute_map_dir": None,
        }
    )
    return Server(config=conf), base


def page(title, body, status="200 OK"):
    text = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body>{body}</body></html>"
    )
    return status, [("Content-Type", "text/html; charset=utf-8")], text.encode()


def login_form(saml_request, relay_state, binding, error=""):
    err = f"<p class='error'>{html.escape(error)}</p>" if error else ""
    return page(
        "Test IdP login",
        f"<h1>Test IdP</h1>{err}<form method='post' action='/login'>"
        f"<input type='hidden' name='SAMLRequest' value='{html.escape(saml_request, quote=True)}'>"
        f"<input type='hidden' name='RelayState' value='{html.escape(relay_state, quote=True)}'>"
        f"<input type='hidden' name='binding' value='{html.escape(binding, quote=True)}'>"
        "<label>Username <input type='text' name='username'></label>"
        "<label>Password <input type='password' name='password'></label>"
        "<button type='submit'>Sign in</button></form>",
        "401 Unauthorized" if error else "200 OK",
    )


class App:
    def __init__(self, server, base, users):
        self.server = server
        self.base = base
        self.users = users

    def __call__(self, environ, start_response):
        try:
            status, headers, body = self.route(environ)
        except Exception as e:  # a test peer: show the failure rather than hang the test
            log.exception("request failed")
            status, headers, body = page("error", html.escape(repr(e)), "500 Internal Server Error")
        start_response(status, headers)
        return [body]

    def form(self, environ):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        data = environ["wsgi.input"].read(size).decode()
        return {k: v[0] for k, v in parse_qs(data, keep_blank_values=True).items()}

    def route(self, environ):
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return "200 OK", [("Content-Type", "text/plain")], b"ok"
        if path == "/metadata":
            from saml2.metadata import create_metadata_string

            xml = create_metadata_string(None, self.server.config, sign=False)
            return "200 OK", [("Content-Type", "application/samlmetadata+xml")], xml
        if path == "/sso/redirect" and method == "GET":
            q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            return self.start(q.get("SAMLRequest", ""), q.get("RelayState", ""), BINDING_HTTP_REDIRECT)
        if path == "/sso/post" and method == "POST":
            f = self.form(environ)
            return self.start(f.get("SAMLRequest", ""), f.get("RelayState", ""), BINDING_HTTP_POST)
        if path == "/login" and method == "POST":
            return self.login(self.form(environ))
        return page("not found", "not found", "404 Not Found")

    def start(self, saml_request, relay_state, binding):
        # Parse now so a bad request fails here, visibly, not after the password.
        req = self.server.parse_authn_request(saml_request, binding)
        log.info("AuthnRequest %s from %s", req.message.id, req.message.issuer.text)
        return login_form(saml_request, relay_state, binding)

    def login(self, f):
        saml_request, relay_state, binding = f["SAMLRequest"], f["RelayState"], f["binding"]
        user = self.users.get(f.get("username", ""))
        if user is None or user["password"] != f.get("password"):
            return login_form(saml_request, relay_state, binding, "Wrong username or password.")
        req = self.server.parse_authn_request(saml_request, binding).message
        sp = req.issuer.text
        acs = self.server.metadata.assertion_consumer_service(sp, BINDING_HTTP_POST)[0]["location"]
        if req.assertion_consumer_service_url and req.assertion_consumer_service_url != acs:
            return page("bad ACS", "AssertionConsumerServiceURL is not in the SP metadata", "400 Bad Request")
        identity = {
            "uid": [f["username"]],
            "mail": [user["email"]],
            "groups": list(user.get("groups", [])),
        }
        name_id = NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=user.get("name_id", user["email"]))
        response = self.server.create_authn_response(
            identity,
            in_response_to=req.id,
            destination=acs,
            sp_entity_id=sp,
            name_id=name_id,
            sign_assertion=True,
            sign_response=False,
            sign_alg=xmldsig.SIG_RSA_SHA256,
            digest_alg=xmldsig.DIGEST_SHA256,
        )
        log.info("signed response for %s to %s", f["username"], acs)
        info = self.server.apply_binding(BINDING_HTTP_POST, str(response), acs, relay_state, response=True)
        return "200 OK", [("Content-Type", "text/html; charset=utf-8")], "".join(info["data"]).encode()


class QuietHandler(WSGIRequestHandler):
    def log_message(self, fmt, *a):
        log.info("%s %s", self.address_string(), fmt % a)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--sp-metadata", required=True)
    p.add_argument("--users", required=True)
    p.add_argument("--xmlsec1", default="/usr/bin/xmlsec1")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    with open(args.users) as f:
        users = json.load(f)
    server, base = build_server(args)
    httpd = make_server("127.0.0.1", args.port, App(server, base, users), WSGIServer, QuietHandler)
    log.info("listening on %s", base)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
