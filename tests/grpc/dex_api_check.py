"""A gRPC client of the broker written with Python's grpcio, from stubs that grpcio-tools
generates at run time from the project's proto (broker/proto/dex_api.proto): the wire format
is checked by an implementation that shares no code with the broker.

    dex_api_check.py --addr HOST:PORT --proto-dir DIR MODE [options]

Modes:
  every-rpc   calls every RPC of api.Dex and checks Dex's semantics, then the hostile cases
              (malformed protobuf, oversized message, invalid bcrypt hashes, e-mails that
              differ only in case): each refused with the right status and nothing stored.
  list-refresh --sub SUB              prints the user's refresh tokens as JSON
  revoke-refresh --sub SUB --client-id ID   revokes them, prints {"not_found": bool}

Options for every-rpc: --issuer URL, --hash HASH (bcrypt, cost >= 10, of "password"),
--cheap-hash HASH (bcrypt cost 4). TLS: --ca-cert, --client-cert, --client-key.
Prints one JSON line; exits 0 when every check held, 1 with the failed check otherwise.
"""

import argparse
import importlib
import json
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc


class CheckFailed(Exception):
    pass


def check(condition, what):
    if not condition:
        raise CheckFailed(what)


def generate_stubs(proto_dir):
    out = tempfile.mkdtemp(prefix="dex-api-stubs-")
    code = protoc.main([
        "grpc_tools.protoc",
        f"-I{proto_dir}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        os.path.join(proto_dir, "dex_api.proto"),
    ])
    if code != 0:
        raise CheckFailed(f"grpcio-tools could not compile the proto (exit {code})")
    sys.path.insert(0, out)
    return importlib.import_module("dex_api_pb2"), importlib.import_module("dex_api_pb2_grpc")


def channel(args):
    if args.ca_cert:
        read = lambda p: open(p, "rb").read() if p else None
        creds = grpc.ssl_channel_credentials(
            root_certificates=read(args.ca_cert),
            private_key=read(args.client_key),
            certificate_chain=read(args.client_cert),
        )
        return grpc.secure_channel(args.addr, creds)
    return grpc.insecure_channel(args.addr)


def refused_with(code, call, *a):
    """Runs call(*a); it must fail with `code`. Returns the status details."""
    try:
        call(*a, timeout=30)
    except grpc.RpcError as e:
        check(e.code() == code, f"expected {code}, got {e.code()}: {e.details()}")
        return e.details()
    raise CheckFailed(f"expected {code}, but the call succeeded")


def every_rpc(pb, stub, ch, args):
    done = []
    t = dict(timeout=30)

    v = stub.GetVersion(pb.VersionReq(), **t)
    check(v.api == 3 and "gatehouse" in v.server, f"GetVersion: {v}")
    done.append("GetVersion")

    d = stub.GetDiscovery(pb.DiscoveryReq(), **t)
    check(d.issuer == args.issuer, f"GetDiscovery issuer {d.issuer!r}")
    check(d.token_endpoint == args.issuer + "/token", f"GetDiscovery token {d.token_endpoint}")
    check("code" in d.response_types_supported, "GetDiscovery response types")
    check("S256" in d.code_challenge_methods_supported, "GetDiscovery PKCE")
    done.append("GetDiscovery")

    # --- clients ---
    c = pb.Client(id="py-app", name="Python app", redirect_uris=["http://127.0.0.1:9/cb"])
    r = stub.CreateClient(pb.CreateClientReq(client=c), **t)
    check(not r.already_exists and r.client.id == "py-app", f"CreateClient: {r}")
    check(len(r.client.secret) >= 32, "CreateClient generates a secret when empty")
    secret = r.client.secret
    again = stub.CreateClient(pb.CreateClientReq(client=c), **t)
    check(again.already_exists, "CreateClient twice: already_exists")
    anon = stub.CreateClient(pb.CreateClientReq(client=pb.Client(
        public=True, redirect_uris=["http://127.0.0.1:9/pub"])), **t)
    check(anon.client.id and not anon.client.secret, f"CreateClient public, no id: {anon}")
    static = stub.CreateClient(pb.CreateClientReq(client=pb.Client(
        id="gatehouse", redirect_uris=["http://x/cb"])), **t)
    check(static.already_exists, "CreateClient with a static client's id: already_exists")
    refused_with(grpc.StatusCode.INVALID_ARGUMENT, stub.CreateClient, pb.CreateClientReq())
    refused_with(grpc.StatusCode.INVALID_ARGUMENT, stub.CreateClient, pb.CreateClientReq(
        client=pb.Client(id="bad-uri", redirect_uris=["not a url"])))
    done.append("CreateClient")

    g = stub.GetClient(pb.GetClientReq(id="py-app"), **t)
    check(g.client.secret == secret and g.client.name == "Python app", f"GetClient: {g}")
    gs = stub.GetClient(pb.GetClientReq(id="gatehouse"), **t)
    check(gs.client.id == "gatehouse", "GetClient of a static client")
    refused_with(grpc.StatusCode.NOT_FOUND, stub.GetClient, pb.GetClientReq(id="nope"))
    refused_with(grpc.StatusCode.NOT_FOUND, stub.GetClient, pb.GetClientReq(id="bad-uri"))
    done.append("GetClient")

    u = stub.UpdateClient(pb.UpdateClientReq(id="py-app", name="Renamed"), **t)
    check(not u.not_found, "UpdateClient")
    g = stub.GetClient(pb.GetClientReq(id="py-app"), **t)
    check(g.client.name == "Renamed" and list(g.client.redirect_uris) == ["http://127.0.0.1:9/cb"]
          and g.client.secret == secret, f"UpdateClient keeps what was not given: {g}")
    check(stub.UpdateClient(pb.UpdateClientReq(id="nope", name="x"), **t).not_found,
          "UpdateClient unknown: not_found")
    refused_with(grpc.StatusCode.FAILED_PRECONDITION, stub.UpdateClient,
                 pb.UpdateClientReq(id="gatehouse", name="x"))
    done.append("UpdateClient")

    listed = stub.ListClients(pb.ListClientReq(), **t).clients
    ids = [x.id for x in listed]
    check("gatehouse" in ids and "py-app" in ids and anon.client.id in ids, f"ListClients: {ids}")
    check("secret" not in pb.ClientInfo.DESCRIPTOR.fields_by_name, "ListClients carries no secrets")
    done.append("ListClients")

    check(not stub.DeleteClient(pb.DeleteClientReq(id=anon.client.id), **t).not_found, "DeleteClient")
    check(stub.DeleteClient(pb.DeleteClientReq(id=anon.client.id), **t).not_found,
          "DeleteClient twice: not_found")
    refused_with(grpc.StatusCode.FAILED_PRECONDITION, stub.DeleteClient,
                 pb.DeleteClientReq(id="gatehouse"))
    done.append("DeleteClient")

    # --- passwords ---
    hash_ = args.hash.encode()
    p = pb.Password(email="Py.User@Example.com", hash=hash_, username="py", user_id="py-user-1")
    check(not stub.CreatePassword(pb.CreatePasswordReq(password=p), **t).already_exists,
          "CreatePassword")
    same = pb.Password(email="py.user@example.COM", hash=hash_, username="dup", user_id="py-user-2")
    check(stub.CreatePassword(pb.CreatePasswordReq(password=same), **t).already_exists,
          "CreatePassword of an e-mail differing only in case: already_exists")
    admin = pb.Password(email="ADMIN@example.com", hash=hash_, username="x", user_id="x")
    check(stub.CreatePassword(pb.CreatePasswordReq(password=admin), **t).already_exists,
          "CreatePassword of a static user's e-mail: already_exists")
    refused_with(grpc.StatusCode.INVALID_ARGUMENT, stub.CreatePassword, pb.CreatePasswordReq(
        password=pb.Password(email="nouid@example.com", hash=hash_)))
    done.append("CreatePassword")

    def stored(email):
        return [x for x in stub.ListPasswords(pb.ListPasswordReq(), **t).passwords
                if x.email.lower() == email.lower()]

    mine = stored("py.user@example.com")
    check(len(mine) == 1 and mine[0].user_id == "py-user-1" and mine[0].username == "py",
          f"ListPasswords: {mine}")
    everyone = stub.ListPasswords(pb.ListPasswordReq(), **t).passwords
    check(all(len(x.hash) == 0 for x in everyone), "ListPasswords carries no hashes")
    check(any(x.email == "admin@example.com" for x in everyone), "ListPasswords has static users")
    done.append("ListPasswords")

    vp = lambda e, pw: stub.VerifyPassword(pb.VerifyPasswordReq(email=e, password=pw), **t)
    check(vp("PY.USER@example.com", "password").verified, "VerifyPassword right")
    wrong = vp("py.user@example.com", "wrong")
    check(not wrong.verified and not wrong.not_found, "VerifyPassword wrong")
    check(vp("nobody@example.com", "password").not_found, "VerifyPassword unknown")
    check(vp("admin@example.com", "password").verified, "VerifyPassword static")
    refused_with(grpc.StatusCode.INVALID_ARGUMENT, stub.VerifyPassword,
                 pb.VerifyPasswordReq(email="py.user@example.com"))
    done.append("VerifyPassword")

    up = stub.UpdatePassword(pb.UpdatePasswordReq(email="py.user@example.com", new_username="py2"), **t)
    check(not up.not_found and stored("py.user@example.com")[0].username == "py2", "UpdatePassword")
    check(vp("py.user@example.com", "password").verified, "UpdatePassword keeps the hash")
    check(stub.UpdatePassword(pb.UpdatePasswordReq(email="nobody@example.com", new_username="x"),
                              **t).not_found, "UpdatePassword unknown: not_found")
    refused_with(grpc.StatusCode.FAILED_PRECONDITION, stub.UpdatePassword,
                 pb.UpdatePasswordReq(email="admin@example.com", new_username="x"))
    refused_with(grpc.StatusCode.INVALID_ARGUMENT, stub.UpdatePassword,
                 pb.UpdatePasswordReq(email="py.user@example.com"))
    refused_with(grpc.StatusCode.INVALID_ARGUMENT, stub.UpdatePassword,
                 pb.UpdatePasswordReq(email="py.user@example.com", new_hash=b"plaintext"))
    check(vp("py.user@example.com", "password").verified, "a refused UpdatePassword changed nothing")
    done.append("UpdatePassword")

    # --- refresh tokens (none yet for this user) ---
    sub = subject("py-user-1", "local")
    check(len(stub.ListRefresh(pb.ListRefreshReq(user_id=sub), **t).refresh_tokens) == 0,
          "ListRefresh: none yet")
    refused_with(grpc.StatusCode.INVALID_ARGUMENT, stub.ListRefresh,
                 pb.ListRefreshReq(user_id="not a subject"))
    done.append("ListRefresh")
    check(stub.RevokeRefresh(pb.RevokeRefreshReq(user_id=sub, client_id="gatehouse"), **t).not_found,
          "RevokeRefresh without tokens: not_found")
    done.append("RevokeRefresh")

    check(not stub.DeletePassword(pb.DeletePasswordReq(email="PY.USER@example.com"), **t).not_found,
          "DeletePassword")
    check(stub.DeletePassword(pb.DeletePasswordReq(email="py.user@example.com"), **t).not_found,
          "DeletePassword twice: not_found")
    check(vp("py.user@example.com", "password").not_found, "a deleted user is gone")
    refused_with(grpc.StatusCode.FAILED_PRECONDITION, stub.DeletePassword,
                 pb.DeletePasswordReq(email="admin@example.com"))
    done.append("DeletePassword")

    for name, req in [("CreateConnector", pb.CreateConnectorReq()),
                      ("UpdateConnector", pb.UpdateConnectorReq()),
                      ("DeleteConnector", pb.DeleteConnectorReq()),
                      ("ListConnectors", pb.ListConnectorReq())]:
        details = refused_with(grpc.StatusCode.UNIMPLEMENTED, getattr(stub, name), req)
        check("connector" in details, f"{name}: a clear message ({details!r})")
        done.append(name)

    return done + hostile(pb, stub, ch, args)


def hostile(pb, stub, ch, args):
    done = []
    t = dict(timeout=30)
    before = len(stub.ListPasswords(pb.ListPasswordReq(), **t).passwords)

    for label, bad in [("cost 4", args.cheap_hash.encode()),
                       ("cost 31", b"$2b$31$" + b"a" * 53),
                       ("not bcrypt", b"$1$salt$md5cryptpasswordhash"),
                       ("plain text", b"password"),
                       ("truncated", args.hash.encode()[:30]),
                       ("empty", b"")]:
        details = refused_with(grpc.StatusCode.INVALID_ARGUMENT, stub.CreatePassword,
                               pb.CreatePasswordReq(password=pb.Password(
                                   email=f"bad-hash@example.com", hash=bad, username="x",
                                   user_id="bad-hash")))
        check(not bad or bad.decode("latin-1") not in details,
              f"{label}: the refusal does not echo the hash ({details!r})")
    done.append("invalid bcrypt hashes refused")

    first = stub.CreatePassword(pb.CreatePasswordReq(password=pb.Password(
        email="Case@Example.com", hash=args.hash.encode(), username="a", user_id="case-1")), **t)
    check(not first.already_exists, "first of the case pair")
    second = stub.CreatePassword(pb.CreatePasswordReq(password=pb.Password(
        email="case@example.COM", hash=args.hash.encode(), username="b", user_id="case-2")), **t)
    check(second.already_exists, "an e-mail differing only in case: already_exists")
    done.append("duplicate e-mail in another case refused")

    # Raw bytes on the wire: a length prefix pointing past the end of the message.
    raw = ch.unary_unary("/api.Dex/CreatePassword", request_serializer=None,
                         response_deserializer=None)
    refused_with(grpc.StatusCode.INTERNAL, raw, b"\x0a\xff\xff\xff\xff\x0f\x0a\x01x")
    refused_with(grpc.StatusCode.INTERNAL, raw, b"\x0a\x05\x22\x03abc\xff")
    done.append("malformed protobuf refused")

    huge = pb.CreatePasswordReq(password=pb.Password(
        email="huge@example.com", hash=args.hash.encode(), username="x" * (256 * 1024),
        user_id="huge"))
    refused_with(grpc.StatusCode.RESOURCE_EXHAUSTED, stub.CreatePassword, huge)
    done.append("oversized message refused")

    after = stub.ListPasswords(pb.ListPasswordReq(), **t).passwords
    check(len(after) == before + 1, f"only the first of the case pair was stored ({before} -> {len(after)})")
    check(not any(x.email in ("bad-hash@example.com", "huge@example.com") for x in after),
          "nothing refused was stored")
    return done


def subject(user_id, connector_id):
    """The `sub` claim: base64url of the protobuf {1: user_id, 2: connector_id}."""
    import base64
    body = b""
    for tag, value in ((0x0A, user_id), (0x12, connector_id)):
        raw = value.encode()
        body += bytes([tag, len(raw)]) + raw
    return base64.urlsafe_b64encode(body).rstrip(b"=").decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["every-rpc", "list-refresh", "revoke-refresh"])
    ap.add_argument("--addr", required=True)
    ap.add_argument("--proto-dir", required=True)
    ap.add_argument("--issuer")
    ap.add_argument("--hash")
    ap.add_argument("--cheap-hash")
    ap.add_argument("--sub")
    ap.add_argument("--client-id")
    ap.add_argument("--ca-cert")
    ap.add_argument("--client-cert")
    ap.add_argument("--client-key")
    args = ap.parse_args()
    pb, pb_grpc = generate_stubs(args.proto_dir)
    ch = channel(args)
    stub = pb_grpc.DexStub(ch)
    try:
        if args.mode == "every-rpc":
            done = every_rpc(pb, stub, ch, args)
            print(json.dumps({"ok": True, "checked": done}))
        elif args.mode == "list-refresh":
            r = stub.ListRefresh(pb.ListRefreshReq(user_id=args.sub), timeout=30)
            print(json.dumps({"ok": True, "refresh_tokens": [
                {"id": x.id, "client_id": x.client_id, "created_at": x.created_at,
                 "last_used": x.last_used} for x in r.refresh_tokens]}))
        else:
            r = stub.RevokeRefresh(pb.RevokeRefreshReq(user_id=args.sub, client_id=args.client_id),
                                   timeout=30)
            print(json.dumps({"ok": True, "not_found": r.not_found}))
    except CheckFailed as e:
        print(json.dumps({"ok": False, "failed": str(e)}))
        return 1
    except grpc.RpcError as e:
        print(json.dumps({"ok": False, "failed": f"unexpected {e.code()}: {e.details()}"}))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
