package extract

import (
	"bytes"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/tenantry/tenantry/domain"
)

// skippedHTML are elements whose text is not part of the document: code, styling,
// navigation and the head.
var skippedHTML = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Nav: true, atom.Noscript: true, atom.Template: true,
	atom.Head: true, atom.Svg: true, atom.Iframe: true, atom.Object: true,
}

var headingHTML = map[atom.Atom]bool{
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
}

// blockHTML are elements that end a paragraph.
var blockHTML = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Li: true, atom.Tr: true, atom.Br: true, atom.Section: true,
	atom.Article: true, atom.Blockquote: true, atom.Pre: true, atom.Table: true, atom.Ul: true, atom.Ol: true,
	atom.Dt: true, atom.Dd: true, atom.Hr: true, atom.Main: true, atom.Footer: true, atom.Header: true,
}

// extractHTML returns the text of an HTML page's body, one section per heading
// (h1-h6), without scripts, styles or navigation.
func extractHTML(data []byte) ([]domain.Section, error) {
	root, err := html.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, corrupt("the HTML file cannot be parsed", err)
	}
	var b sectionBuilder
	var para strings.Builder
	endParagraph := func() {
		b.paragraph(para.String())
		para.Reset()
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			para.WriteString(n.Data)
			return
		case n.Type == html.ElementNode && skippedHTML[n.DataAtom]:
			return
		case n.Type == html.ElementNode && headingHTML[n.DataAtom]:
			endParagraph()
			b.startSection(textOf(n))
			return
		}
		block := n.Type == html.ElementNode && blockHTML[n.DataAtom]
		if block {
			endParagraph()
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if block {
			endParagraph()
		} else if n.Type == html.ElementNode && (n.DataAtom == atom.Td || n.DataAtom == atom.Th) {
			para.WriteString(" ")
		}
	}
	walk(root)
	endParagraph()
	return b.sections(), nil
}

// textOf is the text inside n, without skipped elements.
func textOf(n *html.Node) string {
	var s strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			s.WriteString(n.Data)
		}
		if n.Type == html.ElementNode && skippedHTML[n.DataAtom] {
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return s.String()
}
