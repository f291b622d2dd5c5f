"""The messages the C generator and stub load, encoded once per run from the product's
kits: Credit-Control from ``interceptor.diameter.traffic``, CER/CEA, DWA, DPR/DPA from
the agent's own ``MessageFactory``.

The C programs only patch identifiers into these bytes: hop-by-hop and end-to-end ids in
every message, the decimal counter inside the CCR's Session-Id, and (in the stub) the
Session-Id AVP copied from the request into the CCA, which must be its first AVP.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from interceptor.core.avps import CREDIT_LIMIT_REACHED, HEADER_LENGTH, SUCCESS
from interceptor.diameter import codec
from interceptor.diameter.config import AgentIdentity
from interceptor.diameter.messages import IdentifierSource, MessageFactory
from interceptor.diameter.traffic import CallAttempt, cca, ccr, e164

CLIENT = AgentIdentity("bench-client.test", "bench.test", ("127.0.0.1",),
                       product_name="beepcall-bench-generator")
OCS = AgentIdentity("ocs-stub.ocs.test", "ocs.test", ("127.0.0.1",),
                    product_name="beepcall-bench-ocs-stub")
DESTINATION_REALM = "ocs.test"

SESSION_COUNTER_WIDTH = 10
GRANTED_SECONDS = 600


@dataclass(frozen=True)
class Templates:
    directory: Path
    ccr_length: int
    session_counter_offset: int
    session_counter_width: int


def credit_control_request(run_tag: int) -> bytes:
    """A CCR-Initial for an IMS voice call (about 420 bytes: without the S-CSCF's
    descriptive AVPs), its Session-Id counter all zeros."""
    counter = "0" * SESSION_COUNTER_WIDTH
    return ccr(CallAttempt(
        session_id=f"{CLIENT.origin_host};{run_tag % 10**8:08d};{counter}",
        origin_host=CLIENT.origin_host, origin_realm=CLIENT.origin_realm,
        destination_realm=DESTINATION_REALM, subscription_ids=e164("84912345678"),
        calling_party_address="tel:+84912345678", ims_charging_identifier=None,
        scscf_details=False, requested_seconds=GRANTED_SECONDS))


def write_templates(directory: Path, run_tag: int) -> Templates:
    """Write every template the generator and stub load; return where the CCR counter is."""
    directory.mkdir(parents=True, exist_ok=True)
    client = MessageFactory(CLIENT, IdentifierSource(0, 1))
    ocs = MessageFactory(OCS, IdentifierSource(0, 1))
    request = credit_control_request(run_tag)
    session_value = HEADER_LENGTH + 8  # the Session-Id AVP's header has no Vendor-Id
    counter_offset = request.index(b"0" * SESSION_COUNTER_WIDTH, session_value)
    cer = client.cer()
    files = {
        "gen_cer.bin": cer,
        "gen_ccr.bin": request,
        "gen_dwa.bin": client.dwa(codec.parse_header(ocs.dwr())),
        "gen_dpa.bin": client.dpa(codec.parse_header(ocs.dpr())),
        "gen_dpr.bin": client.dpr(),
        "stub_cea.bin": ocs.cea(codec.parse_header(cer)),
        "stub_dwa.bin": ocs.dwa(codec.parse_header(client.dwr())),
        "stub_dpa.bin": ocs.dpa(codec.parse_header(client.dpr())),
        "stub_cca.bin": cca(request, OCS.origin_host, OCS.origin_realm, SUCCESS,
                            mscc_result_codes=[SUCCESS], granted_seconds=GRANTED_SECONDS,
                            validity_time=3600),
        "stub_cca_4012.bin": cca(request, OCS.origin_host, OCS.origin_realm,
                                 CREDIT_LIMIT_REACHED),
    }
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return Templates(directory=directory, ccr_length=len(request),
                     session_counter_offset=counter_offset,
                     session_counter_width=SESSION_COUNTER_WIDTH)
