package extract

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tenantry/tenantry/domain"
)

// maxDOCXPart bounds the decompressed size of one XML part, so a small zip cannot
// expand into unbounded memory.
const maxDOCXPart = 64 << 20

// oleMagic starts a Compound File: an encrypted Office document (or a legacy .doc).
var oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

const wordNS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

// extractDOCX reads word/document.xml: one paragraph per w:p, a new section at each
// paragraph whose style is a heading (by the style's name in word/styles.xml, such as
// "heading 2" or "Title", or by its outline level).
func extractDOCX(data []byte) ([]domain.Section, error) {
	if bytes.HasPrefix(data, oleMagic) {
		return nil, domain.E(domain.KindUnprocessable, CodeEncrypted,
			"the DOCX file is password-protected (or a legacy .doc file); save it without a password as .docx", nil)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, corrupt("the DOCX file is not a valid Word document (a truncated or damaged zip archive)", err)
	}
	headings, err := docxHeadingStyles(zr)
	if err != nil {
		return nil, err
	}
	doc, err := openPart(zr, "word/document.xml")
	if err != nil {
		return nil, err
	}
	defer doc.Close()
	return docxSections(doc, headings)
}

// openPart opens one part of the archive, read up to maxDOCXPart bytes.
func openPart(zr *zip.Reader, name string) (io.ReadCloser, error) {
	f, err := zr.Open(name)
	if err != nil {
		return nil, corrupt("the DOCX file has no "+name, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{&limitedPart{r: io.LimitReader(f, maxDOCXPart+1)}, f}, nil
}

type limitedPart struct {
	r io.Reader
	n int64
}

func (l *limitedPart) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > maxDOCXPart {
		return n, domain.E(domain.KindTooLarge, domain.KindTooLarge.String(),
			fmt.Sprintf("the DOCX file expands to more than %d bytes of XML", maxDOCXPart), nil)
	}
	return n, err
}

// docxHeadingStyles returns the ids of paragraph styles that are headings.
func docxHeadingStyles(zr *zip.Reader) (map[string]bool, error) {
	out := map[string]bool{}
	f, err := openPart(zr, "word/styles.xml")
	if err != nil {
		return out, nil // styles are optional; style ids alone still name headings
	}
	defer f.Close()
	var styles struct {
		Style []struct {
			ID   string `xml:"styleId,attr"`
			Name struct {
				Val string `xml:"val,attr"`
			} `xml:"name"`
			Outline *struct {
				Val string `xml:"val,attr"`
			} `xml:"pPr>outlineLvl"`
		} `xml:"style"`
	}
	if err := xml.NewDecoder(f).Decode(&styles); err != nil {
		return nil, docxXMLError(err)
	}
	for _, s := range styles.Style {
		name := strings.ToLower(s.Name.Val)
		if strings.HasPrefix(name, "heading") || name == "title" || s.Outline != nil {
			out[s.ID] = true
		}
	}
	return out, nil
}

func docxXMLError(err error) error {
	if domain.KindOf(err) == domain.KindTooLarge {
		return err
	}
	return corrupt("the DOCX file's XML is damaged", err)
}

// docxSections walks the body's paragraphs.
func docxSections(r io.Reader, headings map[string]bool) ([]domain.Section, error) {
	dec := xml.NewDecoder(r)
	var b sectionBuilder
	var para strings.Builder
	heading, inText := false, false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, docxXMLError(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space != wordNS {
				continue
			}
			switch t.Name.Local {
			case "p":
				para.Reset()
				heading = false
			case "pStyle":
				heading = heading || headings[attr(t, "val")] || strings.HasPrefix(strings.ToLower(attr(t, "val")), "heading")
			case "outlineLvl":
				heading = true
			case "t":
				inText = true
			case "tab":
				para.WriteString("\t")
			case "br", "cr":
				para.WriteString("\n")
			}
		case xml.EndElement:
			switch {
			case t.Name.Space != wordNS:
			case t.Name.Local == "t":
				inText = false
			case t.Name.Local == "p" && heading:
				b.startSection(para.String())
			case t.Name.Local == "p":
				b.paragraph(para.String())
			case t.Name.Local == "tc":
				para.WriteString(" ")
			}
		case xml.CharData:
			if inText {
				para.Write(t)
			}
		}
	}
	return b.sections(), nil
}

func attr(e xml.StartElement, local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
