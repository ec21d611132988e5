"""Protocol engines: code a probe calls to speak a protocol (iperf3, ICMP, DNS, HTTP,
RTSP, SNMP), each testable on its own against the real peer. No verdicts here: an
engine reports what happened on the wire."""
