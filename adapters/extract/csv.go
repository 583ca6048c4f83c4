package extract

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tenantry/tenantry/domain"
)

// extractCSV renders each row after the header as "column: value" lines, a blank line
// between rows, so a search for a column name and value finds the row.
func extractCSV(data []byte) ([]domain.Section, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, csvError(err)
	}
	var b sectionBuilder
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		var lines strings.Builder
		for i, v := range row {
			if strings.TrimSpace(v) == "" {
				continue
			}
			name := fmt.Sprintf("column %d", i+1)
			if i < len(header) && strings.TrimSpace(header[i]) != "" {
				name = strings.TrimSpace(header[i])
			}
			fmt.Fprintf(&lines, "%s: %s\n", name, strings.TrimSpace(v))
		}
		b.paragraph(lines.String())
	}
	return b.sections(), nil
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return corrupt(fmt.Sprintf("the CSV file is malformed at line %d: %v", pe.Line, pe.Err), err)
	}
	return corrupt("the CSV file cannot be read", err)
}
