package ports

import (
	"context"

	"github.com/tenantry/tenantry/domain"
)

// TextExtractor reads the text of an uploaded document file.
type TextExtractor interface {
	// Extract returns the text of data, a file of format f, as sections in reading
	// order, each on one page under one heading (page 1-based, zero when the format has
	// no pages). A file that is corrupt, password-protected or has no text layer is
	// KindUnprocessable with a detail that says which; a format it cannot read is
	// KindUnsupportedMedia. It is safe for concurrent use.
	Extract(ctx context.Context, f domain.FileFormat, data []byte) ([]domain.Section, error)
}
