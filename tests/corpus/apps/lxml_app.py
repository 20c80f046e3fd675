"""lxml: libxml2/libxslt parsing, XPath, XSLT, C14N, HTML parser."""
import hashlib

from lxml import etree, html

xml = b"<root>" + b"".join(b'<item id="%d"><v>%d</v></item>' % (i, i * i) for i in range(50)) + b"</root>"
doc = etree.fromstring(xml)
print("xpath sum", doc.xpath("sum(//v)"), "count", doc.xpath("count(//item[@id > 20])"))
xslt = etree.XSLT(etree.fromstring(b"""<xsl:stylesheet version="1.0"
  xmlns:xsl="http://www.w3.org/1999/XSL/Transform"><xsl:template match="/">
  <out><xsl:for-each select="//item[position() &lt; 4]"><x><xsl:value-of select="v"/></x></xsl:for-each></out>
  </xsl:template></xsl:stylesheet>"""))
print("xslt", etree.tostring(xslt(doc)).decode())
print("c14n", hashlib.sha256(etree.tostring(doc, method="c14n")).hexdigest()[:16])
page = html.fromstring("<html><body><p class=a>one<p class=a>two<div>three</div></body></html>")
print("html", [p.text_content() for p in page.find_class("a")])
print("libxml2", etree.LIBXML_VERSION >= (2, 9))
