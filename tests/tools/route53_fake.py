#!/usr/bin/python3
"""A stateful fake of Amazon Route 53 (API 2013-04-01) for the route53 plugin's tests.

Every request is checked before it is answered, and what fails is recorded as a violation
(GET /__violations) and answered 400 with the reason:
- its SigV4 signature, recomputed with botocore's own signer (Debian's python3-botocore) over
  exactly the headers the request says it signed: service route53, region us-east-1, the
  configured access key (and session token, when one is configured), a date within 5 minutes
  (another access key is answered 403 InvalidClientTokenId, as Route 53 does, and is no violation);
- its operation, query parameters and XML body against the botocore service model
  (tests/data/route53/botocore-route53-2013-04-01/service-2.json): the namespace, every member
  and list element by its locationName, required members, enums, string lengths, number
  ranges. The fake's own answers are checked against the model's output shapes the same way.

  route53_fake.py --model service-2.json --access-key AKID --secret-key SECRET
                  [--session-token TOKEN] --zone example.test [--zone ...] [--max-items N]

Prints "PORT <n>" once listening. Operations: ListHostedZonesByName (paged by DNSName and
HostedZoneId), ListResourceRecordSets (paged by name, type and identifier; names with
characters other than a-z, 0-9, '-' and '_' written as \\ooo octal escapes, as Route 53 does),
ChangeResourceRecordSets (atomic: one invalid change fails the batch with InvalidChangeBatch
naming each failing change; at most 1,000 ResourceRecord elements and 32,000 characters of
values, UPSERT counted twice; TXT values must be quoted strings of at most 255 characters each)
and GetChange (PENDING, INSYNC after --insync-after polls).
Test control (not signed):
  POST /__fail      {"code": "Throttling" | "PriorRequestNotComplete", "count": n}: the next n
                    signed requests (PriorRequestNotComplete: change requests) answer it
  POST /__insync    {"polls": n}: changes are INSYNC from their n-th GetChange on (default 1)
  POST /__seed      {"zone": name, "sets": [ResourceRecordSet as JSON]}: sets added as they are
                    (aliases, weighted sets), bypassing the checks
  GET  /__sets/<zone>  the zone's record sets as JSON
  GET  /__requests  every signed request: {"method", "path", "at" (Unix seconds), "operation",
                    "records" (changes), "failed" (the code /__fail made it answer)}
  GET  /__violations  what failed the checks
"""
import argparse
import datetime
import json
import re
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from fake_http import JsonHandler, serve

NS = "https://route53.amazonaws.com/doc/2013-04-01/"
LOCK = threading.Lock()
ZONES = {}  # zone id -> {"name": "example.test.", "sets": {(name, type, identifier): set JSON}}
CHANGES = {}  # change id -> polls so far
REQUESTS = []
VIOLATIONS = []
FAILURES = []
STATE = {"insync_after": 1}
MAX_RECORDS, MAX_VALUE_CHARS = 1000, 32000


class Refused(Exception):
    """A request at odds with the model or the signature: a violation, answered 400."""


class RouteError(Exception):
    """An error Route 53 itself answers."""

    def __init__(self, status, code, message, messages=None):
        super().__init__(message)
        self.status, self.code, self.message, self.messages = status, code, message, messages


# --- the model -----------------------------------------------------------------------------

class Model:
    def __init__(self, path):
        self.spec = json.load(open(path))
        self.shapes = self.spec["shapes"]

    def operation(self, method, path):
        """The operation whose requestUri matches, and its uri parameters."""
        for name, op in self.spec["operations"].items():
            http = op["http"]
            if http["method"] != method:
                continue
            pattern = "^" + re.sub(r"\{(\w+)\+?\}", r"(?P<\1>[^/]+)", http["requestUri"].split("?")[0]) + "$"
            m = re.match(pattern, path)
            if m:
                return name, op, m.groupdict()
        raise Refused("no Route 53 operation is %s %s" % (method, path))

    def check_query(self, op, query):
        shape = self.shapes[op["input"]["shape"]] if "input" in op else {"members": {}}
        allowed = {m.get("locationName", n): m for n, m in shape["members"].items() if m.get("location") == "querystring"}
        for key, values in query.items():
            if key not in allowed:
                raise Refused("query parameter %r is not a member of %s" % (key, op["input"]["shape"]))
            self.check_scalar(allowed[key]["shape"], values[0], "?" + key)

    def check_scalar(self, shape_name, text, where):
        shape = self.shapes[shape_name]
        kind = shape["type"]
        if kind == "string":
            if "enum" in shape and text not in shape["enum"]:
                raise Refused("%s: %r is not one of %s" % (where, text, shape["enum"]))
            if len(text) < shape.get("min", 0) or len(text) > shape.get("max", 1 << 30):
                raise Refused("%s: length %d outside %s..%s" % (where, len(text), shape.get("min", 0), shape.get("max")))
        elif kind in ("integer", "long"):
            if not re.fullmatch(r"-?\d+", text or ""):
                raise Refused("%s: %r is not an integer" % (where, text))
            if int(text) < shape.get("min", -(1 << 63)) or int(text) > shape.get("max", 1 << 63):
                raise Refused("%s: %s outside %s..%s" % (where, text, shape.get("min"), shape.get("max")))
        elif kind == "boolean":
            if text not in ("true", "false"):
                raise Refused("%s: %r is not a boolean" % (where, text))
        elif kind == "timestamp":
            datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))

    def check_element(self, element, shape_name, where):
        """`element` (namespace NS) against the shape, recursively."""
        shape = self.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure":
            members = {m.get("locationName", n): (n, m) for n, m in shape["members"].items() if "location" not in m}
            seen = set()
            for child in element:
                tag = child.tag
                if not tag.startswith("{%s}" % NS):
                    raise Refused("%s: element %s is not in namespace %s" % (where, tag, NS))
                tag = tag[len(NS) + 2:]
                if tag not in members:
                    raise Refused("%s: %s is not a member of %s" % (where, tag, shape_name))
                if tag in seen:
                    raise Refused("%s: %s appears twice" % (where, tag))
                seen.add(tag)
                self.check_element(child, members[tag][1]["shape"], where + "/" + tag)
            for required in shape.get("required", []):
                member = shape["members"][required]
                if "location" not in member and member.get("locationName", required) not in seen:
                    raise Refused("%s: required member %s is missing" % (where, required))
        elif kind == "list":
            item = shape["member"]
            name = "{%s}%s" % (NS, item.get("locationName", "member"))
            children = list(element)
            if len(children) < shape.get("min", 0) or len(children) > shape.get("max", 1 << 30):
                raise Refused("%s: %d items outside %s..%s" % (where, len(children), shape.get("min", 0), shape.get("max")))
            for i, child in enumerate(children):
                if child.tag != name:
                    raise Refused("%s: list item %s is not %s" % (where, child.tag, name))
                self.check_element(child, item["shape"], "%s[%d]" % (where, i))
        else:
            if len(element):
                raise Refused("%s: a %s holds no elements" % (where, kind))
            self.check_scalar(shape_name, element.text or "", where)

    def check_body(self, op, body):
        if "input" not in op or "locationName" not in op["input"]:
            if body:
                raise Refused("%s takes no body" % op["input"]["shape"])
            return None
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            raise Refused("the body is not XML: %s" % e)
        expected = "{%s}%s" % (op["input"]["xmlNamespace"]["uri"], op["input"]["locationName"])
        if root.tag != expected:
            raise Refused("the body's root is %s, not %s" % (root.tag, expected))
        self.check_element(root, op["input"]["shape"], op["input"]["locationName"])
        return root


# --- XML answers ---------------------------------------------------------------------------

def element(parent, tag, text=None):
    e = ET.SubElement(parent, tag)
    if text is not None:
        e.text = str(text)
    return e


def escaped_name(name):
    """Route 53 writes characters other than a-z, 0-9, '-', '_' and '.' as \\ooo."""
    return "".join(c if re.fullmatch(r"[a-z0-9\-_.]", c) else "\\%03o" % ord(c) for c in name)


def set_xml(parent, rrset):
    e = element(parent, "ResourceRecordSet")
    element(e, "Name", escaped_name(rrset["Name"]))
    element(e, "Type", rrset["Type"])
    for key in ("SetIdentifier", "Weight", "Region", "Failover", "MultiValueAnswer"):
        if key in rrset:
            element(e, key, str(rrset[key]).lower() if isinstance(rrset[key], bool) else rrset[key])
    if "AliasTarget" in rrset:
        alias = element(e, "AliasTarget")
        for key in ("HostedZoneId", "DNSName", "EvaluateTargetHealth"):
            value = rrset["AliasTarget"][key]
            element(alias, key, str(value).lower() if isinstance(value, bool) else value)
    else:
        element(e, "TTL", rrset["TTL"])
        records = element(e, "ResourceRecords")
        for value in rrset["ResourceRecords"]:
            element(element(records, "ResourceRecord"), "Value", value)
    if "TrafficPolicyInstanceId" in rrset:
        element(e, "TrafficPolicyInstanceId", rrset["TrafficPolicyInstanceId"])
    return e


def document(root_name):
    root = ET.Element(root_name, xmlns=NS)
    return root


# --- Route 53's rules for a change batch ---------------------------------------------------

def fqdn(name):
    return name.lower() if name.endswith(".") else name.lower() + "."


def label(rrset):
    return "[name='%s', type='%s'%s]" % (
        rrset["Name"], rrset["Type"], ", set-identifier='%s'" % rrset["SetIdentifier"] if "SetIdentifier" in rrset else "")


def check_values(rrset):
    """Route 53's checks of the values themselves; a message, or None."""
    for value in rrset.get("ResourceRecords", []):
        if rrset["Type"] in ("TXT", "SPF"):
            strings = re.findall(r'"((?:[^"\\]|\\.)*)"', value)
            if not strings or re.sub(r'"((?:[^"\\]|\\.)*)"', "", value).strip():
                return "Invalid Resource Record: FATAL problem: InvalidCharacterString (Value should be enclosed in quotation marks) encountered with '%s'" % value
            for s in strings:
                if len(re.sub(r"\\(\d{3}|.)", "x", s)) > 255:
                    return "Invalid Resource Record: FATAL problem: TXTRDATATooLong (Value is too long) encountered with '%s'" % value
        if rrset["Type"] == "CNAME" and fqdn(value) == rrset["Name"]:
            return "RRSet of type CNAME with DNS name %s is not permitted because it points to itself" % rrset["Name"]
        if rrset["Type"] == "MX" and not re.fullmatch(r"\d+ \S+", value):
            return "Invalid Resource Record: FATAL problem: MXRRDATANotTwoFields encountered with '%s'" % value
    return None


def apply_batch(zone, changes):
    """Applies every change or none; raises InvalidChangeBatch naming each failing change."""
    records = sum(len(c["ResourceRecordSet"].get("ResourceRecords", [])) * (2 if c["Action"] == "UPSERT" else 1)
                  for c in changes)
    chars = sum(len(v) * (2 if c["Action"] == "UPSERT" else 1) for c in changes
                for v in c["ResourceRecordSet"].get("ResourceRecords", []))
    if records > MAX_RECORDS:
        raise RouteError(400, "InvalidChangeBatch", "Number of records limit of %d exceeded." % MAX_RECORDS,
                         ["Number of records limit of %d exceeded." % MAX_RECORDS])
    if chars > MAX_VALUE_CHARS:
        raise RouteError(400, "InvalidChangeBatch", "Number of characters limit of %d exceeded." % MAX_VALUE_CHARS,
                         ["Number of characters limit of %d exceeded." % MAX_VALUE_CHARS])
    sets = dict(zone["sets"])
    messages = []
    for change in changes:
        rrset = dict(change["ResourceRecordSet"])
        rrset["Name"] = fqdn(rrset["Name"])
        key = (rrset["Name"], rrset["Type"], rrset.get("SetIdentifier", ""))
        action = change["Action"]
        if not (rrset["Name"] == zone["name"] or rrset["Name"].endswith("." + zone["name"])):
            messages.append("RRSet with DNS name %s is not permitted in zone %s" % (rrset["Name"], zone["name"]))
            continue
        problem = check_values(rrset) if action != "DELETE" else None
        if problem:
            messages.append(problem)
            continue
        if action == "CREATE" and key in sets:
            messages.append("Tried to create resource record set %s but it already exists" % label(rrset))
            continue
        if action == "DELETE":
            if key not in sets:
                messages.append("Tried to delete resource record set %s but it was not found" % label(rrset))
                continue
            if sets[key].get("TTL") != rrset.get("TTL") or sets[key].get("ResourceRecords") != rrset.get("ResourceRecords"):
                messages.append("Tried to delete resource record set %s but the values provided do not match the "
                                "current values" % label(rrset))
                continue
            del sets[key]
            continue
        if rrset["Type"] == "CNAME" and any(k[0] == key[0] and k[1] != "CNAME" for k in sets):
            messages.append("RRSet of type CNAME with DNS name %s is not permitted as it conflicts with other records "
                            "with the same DNS name in zone %s" % (rrset["Name"], zone["name"]))
            continue
        sets[key] = rrset
    if messages:
        raise RouteError(400, "InvalidChangeBatch", "; ".join(messages), messages)
    zone["sets"] = sets


def reversed_labels(name):
    return ".".join(reversed(name.rstrip(".").split(".")))


def make_handler(args, model):
    credentials = Credentials(args.access_key, args.secret_key, args.session_token)

    class Handler(JsonHandler):
        def do_GET(self):
            self.route("GET")

        def do_POST(self):
            self.route("POST")

        def do_DELETE(self):
            self.route("DELETE")

        def route(self, method):
            url = urllib.parse.urlsplit(self.path)
            body = self.read_body()
            if url.path.startswith("/__"):
                return self.control(method, url.path, body)
            try:
                name, op, params = model.operation(method, url.path)
                query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
                self.check_signature(method, body)
                model.check_query(op, query)
                root = model.check_body(op, body)
            except RouteError as e:
                return self.xml_error(e.status, e.code, e.message)
            except Refused as refused:
                with LOCK:
                    VIOLATIONS.append("%s %s: %s" % (method, self.path, refused))
                return self.xml_error(400, "MailroomFakeViolation", str(refused))
            with LOCK:
                REQUESTS.append({"method": method, "path": url.path, "at": time.time(), "operation": name})
                failure = FAILURES[0] if FAILURES and (FAILURES[0]["code"] != "PriorRequestNotComplete" or
                                                      name == "ChangeResourceRecordSets") else None
                if failure:
                    REQUESTS[-1]["failed"] = failure["code"]
                    failure["count"] -= 1
                    if failure["count"] <= 0:
                        FAILURES.pop(0)
            if failure:
                return self.xml_error(400, failure["code"], "Rate exceeded" if failure["code"] == "Throttling" else
                                      "The request was rejected because Route 53 was still processing a prior request.")
            try:
                answer = getattr(self, name)(params, {k: v[0] for k, v in query.items()}, root)
            except RouteError as e:
                return self.xml_error(e.status, e.code, e.message, e.messages)
            output = op["output"]["shape"]
            try:  # serialised and read back, as the plugin reads it (xmlns applies to every element)
                model.check_element(ET.fromstring(ET.tostring(answer)), output, output)
            except Refused as refused:  # the fake itself is wrong: fail loudly
                with LOCK:
                    VIOLATIONS.append("the fake's own answer to %s: %s" % (name, refused))
            self.send_xml(200, answer)

        def check_signature(self, method, body):
            authorization = self.headers.get("Authorization", "")
            m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                             r"SignedHeaders=([a-z0-9;\-]+), Signature=([0-9a-f]{64})", authorization)
            if not m:
                raise Refused("no SigV4 Authorization header (got %r)" % authorization[:60])
            key, day, region, service, signed, signature = m.groups()
            if key != args.access_key:  # as Route 53 answers an unknown key: not the signer's fault
                raise RouteError(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
            if (region, service) != ("us-east-1", "route53"):
                raise Refused("signed for %s/%s, not us-east-1/route53" % (region, service))
            stamp = self.headers.get("X-Amz-Date", "")
            try:
                when = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
            except ValueError:
                raise Refused("X-Amz-Date %r is not yyyymmddThhmmssZ" % stamp)
            if stamp[:8] != day or abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) > 300:
                raise Refused("X-Amz-Date %s is not today's scope %s or is more than 5 minutes off" % (stamp, day))
            names = signed.split(";")
            for required in ("host", "x-amz-date") + (("x-amz-security-token",) if args.session_token else ()):
                if required not in names:
                    raise Refused("the signature does not cover %s" % required)
            if args.session_token and self.headers.get("X-Amz-Security-Token") != args.session_token:
                raise Refused("X-Amz-Security-Token is not the session token")
            headers = {n: ",".join(self.headers.get_all(n)) for n in names if self.headers.get(n) is not None}
            if len(headers) != len(names):
                raise Refused("a signed header is missing from the request")
            request = AWSRequest(method=method, url="http://%s%s" % (self.headers["Host"], self.path), data=body,
                                 headers=headers)
            request.context["timestamp"] = stamp
            signer = SigV4Auth(credentials, "route53", "us-east-1")
            canonical = signer.canonical_request(request)
            expected = signer.signature(signer.string_to_sign(request, canonical), request)
            if expected != signature:
                raise Refused("SignatureDoesNotMatch: botocore's canonical request is\n" + canonical)

        # --- operations ---------------------------------------------------------------------

        def zone(self, zone_id):
            with LOCK:
                if zone_id not in ZONES:
                    raise RouteError(404, "NoSuchHostedZone", "No hosted zone found with ID: %s" % zone_id)
                return ZONES[zone_id]

        def ListHostedZonesByName(self, params, query, root):
            limit = min(int(query.get("maxitems", "100")), args.max_items)
            with LOCK:
                zones = sorted(ZONES.items(), key=lambda z: (reversed_labels(z[1]["name"]), z[0]))
            start = (reversed_labels(fqdn(query["dnsname"])), query.get("hostedzoneid", "")) if "dnsname" in query else None
            if start:
                zones = [z for z in zones if (reversed_labels(z[1]["name"]), z[0]) >= start]
            out = document("ListHostedZonesByNameResponse")
            listed = element(out, "HostedZones")
            for zone_id, zone in zones[:limit]:
                z = element(listed, "HostedZone")
                element(z, "Id", "/hostedzone/" + zone_id)
                element(z, "Name", zone["name"])
                element(z, "CallerReference", zone_id)
                config = element(z, "Config")
                element(config, "PrivateZone", "false")
                element(z, "ResourceRecordSetCount", len(zone["sets"]))
            if "dnsname" in query:
                element(out, "DNSName", query["dnsname"])
            element(out, "IsTruncated", "true" if len(zones) > limit else "false")
            if len(zones) > limit:
                element(out, "NextDNSName", zones[limit][1]["name"])
                element(out, "NextHostedZoneId", zones[limit][0])
            element(out, "MaxItems", str(limit))
            return out

        def ListResourceRecordSets(self, params, query, root):
            zone = self.zone(params["Id"])
            limit = min(int(query.get("maxitems", "300")), args.max_items)
            order = lambda s: (reversed_labels(s["Name"]), s["Type"], s.get("SetIdentifier", ""))
            with LOCK:
                sets = sorted(zone["sets"].values(), key=order)
            if "name" in query:
                start = (reversed_labels(fqdn(query["name"])), query.get("type", ""), query.get("identifier", ""))
                sets = [s for s in sets if order(s) >= start]
            out = document("ListResourceRecordSetsResponse")
            listed = element(out, "ResourceRecordSets")
            for rrset in sets[:limit]:
                set_xml(listed, rrset)
            element(out, "IsTruncated", "true" if len(sets) > limit else "false")
            if len(sets) > limit:
                element(out, "NextRecordName", escaped_name(sets[limit]["Name"]))
                element(out, "NextRecordType", sets[limit]["Type"])
                if "SetIdentifier" in sets[limit]:
                    element(out, "NextRecordIdentifier", sets[limit]["SetIdentifier"])
            element(out, "MaxItems", str(limit))
            return out

        def ChangeResourceRecordSets(self, params, query, root):
            zone = self.zone(params["Id"])
            changes = []
            for change in root.iter("{%s}Change" % NS):
                rrset_xml = change.find("{%s}ResourceRecordSet" % NS)
                rrset = {"Name": rrset_xml.findtext("{%s}Name" % NS), "Type": rrset_xml.findtext("{%s}Type" % NS)}
                if rrset_xml.find("{%s}TTL" % NS) is not None:
                    rrset["TTL"] = int(rrset_xml.findtext("{%s}TTL" % NS))
                rrset["ResourceRecords"] = [v.text or "" for v in rrset_xml.iter("{%s}Value" % NS)]
                changes.append({"Action": change.findtext("{%s}Action" % NS), "ResourceRecordSet": rrset})
            with LOCK:
                apply_batch(zone, changes)
                change_id = "C" + uuid.uuid4().hex[:12].upper()
                CHANGES[change_id] = 0
                REQUESTS[-1]["records"] = sum(len(c["ResourceRecordSet"]["ResourceRecords"]) for c in changes)
            return self.change_info("ChangeResourceRecordSetsResponse", change_id, "PENDING")

        def GetChange(self, params, query, root):
            change_id = params["Id"]
            with LOCK:
                if change_id not in CHANGES:
                    raise RouteError(404, "NoSuchChange", "A change with the specified change ID does not exist.")
                CHANGES[change_id] += 1
                status = "INSYNC" if CHANGES[change_id] >= STATE["insync_after"] else "PENDING"
            return self.change_info("GetChangeResponse", change_id, status)

        def change_info(self, root_name, change_id, status):
            out = document(root_name)
            info = element(out, "ChangeInfo")
            element(info, "Id", "/change/" + change_id)
            element(info, "Status", status)
            element(info, "SubmittedAt", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
            return out

        # --- answers and control -------------------------------------------------------------

        def send_xml(self, status, root):
            data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(data)

        def xml_error(self, status, code, message, messages=None):
            if code == "InvalidChangeBatch":
                root = document("InvalidChangeBatch")
                listed = element(root, "Messages")
                for m in messages or [message]:
                    element(listed, "Message", m)
                return self.send_xml(status, root)
            root = document("ErrorResponse")
            error = element(root, "Error")
            element(error, "Type", "Sender")
            element(error, "Code", code)
            element(error, "Message", message)
            element(root, "RequestId", str(uuid.uuid4()))
            self.send_xml(status, root)

        def control(self, method, path, body):
            with LOCK:
                if path == "/__violations":
                    return self.answer(200, VIOLATIONS)
                if path == "/__requests":
                    return self.answer(200, REQUESTS)
                if path.startswith("/__sets/"):
                    name = fqdn(path[len("/__sets/"):])
                    for zone in ZONES.values():
                        if zone["name"] == name:
                            return self.answer(200, sorted(zone["sets"].values(), key=lambda s: (s["Name"], s["Type"])))
                    return self.answer(404, {})
                data = json.loads(body or b"{}")
                if path == "/__fail":
                    FAILURES.append({"code": data["code"], "count": data.get("count", 1)})
                elif path == "/__insync":
                    STATE["insync_after"] = data["polls"]
                elif path == "/__seed":
                    name = fqdn(data["zone"])
                    zone = next(z for z in ZONES.values() if z["name"] == name)
                    for rrset in data["sets"]:
                        rrset["Name"] = fqdn(rrset["Name"])
                        zone["sets"][(rrset["Name"], rrset["Type"], rrset.get("SetIdentifier", ""))] = rrset
                else:
                    return self.answer(404, {})
            self.answer(200, {})

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--session-token")
    parser.add_argument("--zone", action="append", default=[])
    parser.add_argument("--max-items", type=int, default=100)
    args = parser.parse_args()
    for i, name in enumerate(args.zone):
        zone_id = "Z%019d" % (i + 1)
        ZONES[zone_id] = {"name": fqdn(name), "sets": {
            (fqdn(name), "NS", ""): {"Name": fqdn(name), "Type": "NS", "TTL": 172800,
                                     "ResourceRecords": ["ns-1.awsdns-01.org.", "ns-2.awsdns-02.com."]},
            (fqdn(name), "SOA", ""): {"Name": fqdn(name), "Type": "SOA", "TTL": 900, "ResourceRecords": [
                "ns-1.awsdns-01.org. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"]}}}
    serve(make_handler(args, Model(args.model)))


if __name__ == "__main__":
    main()
