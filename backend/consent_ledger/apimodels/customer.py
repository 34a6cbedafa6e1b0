"""The customer's endpoints."""

from __future__ import annotations

from pydantic import Field

from consent_ledger.apimodels.base import AnchorOut, NamedTerms, Reply


class TypedField(Reply):
    name: str
    type: str


class Domain(Reply):
    name: str
    version: str
    chainId: int  # noqa: N815 -- EIP-712's own name
    verifyingContract: str  # noqa: N815 -- EIP-712's own name


class GrantMessage(Reply):
    customer: str
    brand: str
    purposes: str = Field(description="the purposes mask (bit i is purpose i), a decimal uint64")
    categoriesPerPurpose: list[str] = Field(  # noqa: N815 -- the contract's field name
        description="for each purpose of the mask, in ascending order of purpose, the data categories it may use "
        "(a decimal uint64 mask)"
    )
    expiresAt: int  # noqa: N815 -- the contract's field name
    noticeHash: str  # noqa: N815 -- the contract's field name
    nonce: str
    deadline: int


class RevokeMessage(Reply):
    customer: str
    brand: str
    nonce: str
    deadline: int


class GrantTypedData(Reply):
    """Sign with `eth_signTypedData_v4` and submit `message` with the signature."""

    types: dict[str, list[TypedField]]
    primaryType: str  # noqa: N815 -- EIP-712's own name
    domain: Domain
    message: GrantMessage


class RevokeTypedData(Reply):
    types: dict[str, list[TypedField]]
    primaryType: str  # noqa: N815 -- EIP-712's own name
    domain: Domain
    message: RevokeMessage


class Submission(Reply):
    id: int
    kind: str = Field(description="grant | revoke")
    customer: str
    brand: str
    nonce: str
    status: str
    reason: str | None = None
    tx_hash: str | None = None
    block_number: int | None = None
    created_at: str
    updated_at: str


class Submissions(Reply):
    submissions: list[Submission]


class Grant(Reply):
    brand: str
    brand_name: str | None = None
    terms: list[NamedTerms]
    categories: list[str] = Field(description="every category granted, for any purpose")
    purposes: list[str]
    expires_at: int
    granted_at: int
    nonce: str


class Grants(Reply):
    grants: list[Grant]


class StoredField(Reply):
    category: str
    value: str


class Data(Reply):
    fields: dict[str, StoredField]


class ExportedField(Reply):
    field: str
    category: str
    category_label: str | None = None
    value: str
    created_at: str
    updated_at: str


class DataExport(Reply):
    format: str
    customer: str
    created_at: str | None = None
    erased_at: str | None = None
    exported_at: str
    catalog_version: str
    fields: list[ExportedField]


class Erased(Reply):
    erased_fields: int


class Access(Reply):
    receipt_id: str
    brand: str
    brand_name: str | None = None
    categories: list[str]
    purposes: list[str]
    fields: list[str]
    block_number: int
    block_hash: str
    released_at: str
    leaf_index: int | None = None
    leaf: str | None = None
    proof: list[str] | None = Field(default=None, description="inclusion proof to tree_head.root, once anchored")
    anchored: bool


class Accesses(Reply):
    tree_head: AnchorOut | None
    accesses: list[Access]
