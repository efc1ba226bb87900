# Looks for secret values in a file, each also in the forms a leak takes when someone "protects" a secret
# with an unkeyed hash or by encoding it — sha256, sha1, md5 (hex, lower and upper case), base64 (standard and
# url-safe, with and without padding) and hex. Values come from VALUES_FILE, one per line, never from the
# command line. Prints one line per hit on stderr naming the form and the value by its length and first 4
# characters (never the value), then the number of values found on stdout; exits 0 (a crash exits non-zero).
# Usage: python3 secret-scan.py VALUES_FILE FILE
import base64
import hashlib
import sys

values_file, target = sys.argv[1], sys.argv[2]
with open(target, "rb") as f:
    data = f.read()
lowered = data.lower()


def forms(v: bytes):
    yield "value", v, False
    for name in ("sha256", "sha1", "md5"):
        yield name, hashlib.new(name, v).hexdigest().encode(), True
    b64 = base64.b64encode(v)
    yield "base64", b64, False
    yield "base64 (unpadded)", b64.rstrip(b"="), False
    yield "base64url", base64.urlsafe_b64encode(v).rstrip(b"="), False
    yield "hex", v.hex().encode(), True


found = 0
with open(values_file, "rb") as f:
    values = [line.rstrip(b"\n") for line in f if line.strip()]
for v in values:
    hits = [name for name, form, any_case in forms(v) if (form.lower() in lowered if any_case else form in data)]
    if hits:
        found += 1
        shown = v[:4].decode("utf-8", "replace")
        print(f"    leak in {target.rsplit('/', 1)[-1]}: a value of {len(v)} chars starting {shown}… as {', '.join(hits)}", file=sys.stderr)
print(found)
