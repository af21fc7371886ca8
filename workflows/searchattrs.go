package workflows

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Custom search attributes osccr sets on its workflows. They make "list the followers of X" a
// visibility query and give the Temporal Web UI useful columns.
var (
	SearchService = temporal.NewSearchAttributeKeyKeyword("OsccrService")
	SearchRole    = temporal.NewSearchAttributeKeyKeyword("OsccrRole")
	SearchLeader  = temporal.NewSearchAttributeKeyKeyword("OsccrLeader")
	SearchState   = temporal.NewSearchAttributeKeyKeyword("OsccrState")
	SearchPlan    = temporal.NewSearchAttributeKeyKeyword("OsccrPlan")
)

// SearchAttributes lists every custom search attribute with its type, for registration on a
// Temporal namespace.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	out := map[string]enumspb.IndexedValueType{}
	for _, k := range []temporal.SearchAttributeKeyKeyword{SearchService, SearchRole, SearchLeader, SearchState, SearchPlan} {
		out[k.GetName()] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	}
	return out
}
