"""An outgoing document whose package the gateway would refuse (max_package_bytes, issue 7
item 4) is refused at issuing, before any signature or number, with the reason in Vietnamese."""

from services.dispatch.domain.packages import estimated_package_bytes, package_size_problem

MIB = 1024 * 1024


def test_the_estimate_covers_base64_signatures_and_the_envelope():
    # base64 of each file with its signatures' allowance, plus the envelope
    assert estimated_package_bytes([3 * MIB]) > 4 * MIB
    assert estimated_package_bytes([MIB, MIB]) > estimated_package_bytes([2 * MIB])  # each file signed apart


def test_a_document_over_the_limit_is_refused_with_the_limit_said():
    assert package_size_problem([30 * MIB], 50 * MIB) is None
    problem = package_size_problem([38 * MIB], 50 * MIB)
    assert problem is not None and "vượt quá giới hạn 50 MB" in problem
    assert package_size_problem([20 * MIB, 20 * MIB], 50 * MIB) is not None  # annexes count too
