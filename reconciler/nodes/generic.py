"""Any other platform node type (merge, split, api, and types added later): kept verbatim.

The spec writes the platform's own type name and every field raw; nothing is generated (not even
the `repeatable` flag the typed nodes get), so what the spec says is what the platform receives.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, StringConstraints

from reconciler.document import NODE_TYPES
from reconciler.nodes.base import CompileContext, NodeChecks, NodeType, PlatformParts
from reconciler.spec.fields import RESERVED_GENERIC_TYPES, NodeSpecBase
from reconciler.spec.finding import Finding

if TYPE_CHECKING:
    from reconciler.spec.models import AnyNode


# -- the spec model -------------------------------------------------------------------------------

_GENERIC_TYPE_PATTERN = (
    r"^(?!(?:" + "|".join(map(re.escape, RESERVED_GENERIC_TYPES)) + r")$)[A-Za-z][A-Za-z0-9_-]*$"
)


class GenericNode(NodeSpecBase):
    """Any other platform node type (merge, split, api, and types added later), kept verbatim."""

    type: Annotated[str, StringConstraints(pattern=_GENERIC_TYPE_PATTERN)] = Field(
        description="Platform node type (not one of the typed spec types, and `storage` is `dataset`).",
        examples=["merge"],
    )


# -- the type -------------------------------------------------------------------------------------


class Generic(NodeType):
    spec_type = "generic"  # the union's tag; the node's own `type` is the platform's word
    platform_type = ""  # any type no typed module claims
    model = GenericNode

    def findings(self, key: str, node: AnyNode, base: str, checks: NodeChecks) -> list[Finding]:
        if node.type in NODE_TYPES:
            return []
        extra = checks.hints.hint(node.type, [*NODE_TYPES, "dataset"])
        return [Finding(f"{base}/type", f"node type '{node.type}' is not a known platform type{extra}; "
                        "it is passed through as is", "warning")]

    def to_platform(self, key: str, node: AnyNode, ctx: CompileContext) -> PlatformParts:
        return PlatformParts(type=node.type, metadata={})


TYPE = Generic()
