"""Enhanced status codes (RFC 3463) the relay reports in its DSNs, named once."""

RELAYED = "2.0.0"  # X.0.0 with success: handed to the next hop
DELAYED = "4.0.0"  # still trying
BAD_DESTINATION_DOMAIN = "5.1.2"  # the domain does not exist or is not a domain
NULL_MX = "5.1.10"  # RFC 7505: the domain accepts no mail
TOO_BIG_FOR_NEXT_HOP = "5.3.4"  # larger than the next hop's SIZE
NETWORK_TEMPORARY = "4.4.1"  # no answer from the host, connection refused or dropped
DNS_TEMPORARY = "4.4.3"  # directory server failure: try again later
NO_ROUTE = "5.4.4"  # unable to route
ROUTING_LOOP = "5.4.6"  # the mail exchanger is this host
EXPIRED = "5.4.7"  # delivery time expired (a temporary failure that lasted too long)
