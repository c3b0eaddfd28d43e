"""compiled.py was split (specs, answers): every name it had still imports from it."""

from __future__ import annotations

import labelops_ontologykit.compiled as compiled
from labelops_ontologykit import answers, specs


def test_every_name_of_the_compiled_module_still_imports_from_it() -> None:
    for name in (
        *("CompiledOntology", "compile_ontology", "_geometry_mismatch"),
        *("_Range", "_Text", "_Choice", "_Attr", "_ClassSpec", "_RelSpec"),
        *("_RADIO", "_CHECKLIST", "_TEXT", "_NUMBER", "_EXPECTED_ANSWER", "_EXPECTED_ATTR"),
        *("_A_STRING", "_A_INT", "_A_FLOAT", "_A_BOOL", "_A_ENUM"),
        *("_check_answers", "_illegal_nesting", "_missing_answers", "_check_checklist"),
        *("_unknown_classification", "_check_attributes"),
    ):
        assert hasattr(compiled, name), name
    assert compiled._ClassSpec is specs._ClassSpec
    assert compiled._check_answers is answers._check_answers
