package screen

import (
	"maps"
	"slices"
)

// Languages returns the display's languages (screen.language), sorted.
func Languages() []string {
	return slices.Sorted(maps.Keys(languages))
}
