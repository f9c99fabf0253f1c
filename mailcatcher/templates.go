package mailcatcher

import (
	"html/template"
	"strings"
	"time"
)

// The pages use no JavaScript and load nothing from the network. They do not
// reload themselves: the list has a Refresh link.

var tmplFuncs = template.FuncMap{
	"bytes": func(n any) string {
		switch v := n.(type) {
		case int:
			return humanBytes(int64(v))
		case int64:
			return humanBytes(v)
		}
		return ""
	},
	"time":   func(t time.Time) string { return t.Format("2006-01-02 15:04:05Z07:00") },
	"cutAt":  func() string { return humanBytes(PreviewBytes) },
	"joinTo": func(to []string) string { return strings.Join(to, ", ") },
}

const pageStyle = `<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:80rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}
td.num,th.num{text-align:right;white-space:nowrap}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f6f6;padding:.6rem;margin:.4rem 0}
summary{cursor:pointer;color:#555}
nav a,.pager a{margin-right:.8rem}
.muted{color:#777}
iframe{width:100%;height:40rem;border:1px solid #ddd;resize:vertical}
</style>`

var listTmpl = template.Must(template.New("list").Funcs(tmplFuncs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>stackgen mail catcher ({{.P.Total}})</title>
` + pageStyle + `</head><body>
<h1>stackgen mail catcher</h1>
<nav><a href="{{call .Query .P.Page}}">Refresh</a> JSON: <a href="/api/messages">/api/messages</a></nav>
<p class="muted">{{if .Msgs}}Messages {{.P.First}}–{{.P.Last}} of {{.P.Total}}, newest first.{{else if .P.Total}}No messages on page {{.P.Page}}; there are {{.P.Total}} on {{.P.Pages}} page(s).{{end}}
Keeps the newest {{.Limits.MaxMessages}} messages within {{bytes .Limits.MaxTotalBytes}}; refuses messages over {{bytes .Limits.MaxMessageBytes}}.
Bodies are cut at {{cutAt}} here; open a message for all of it.</p>
<table><thead><tr><th>Received</th><th>From</th><th>To</th><th>Subject</th><th class="num">Size</th></tr></thead><tbody>
{{range .Msgs}}<tr><td>{{time .ReceivedAt}}</td><td>{{.From}}</td><td>{{joinTo .To}}</td>
<td><a href="/messages/{{.ID}}">{{if .Subject}}{{.Subject}}{{else}}(no subject){{end}}</a>
<details><summary>preview</summary><pre>{{.Text}}</pre>{{if .Truncated}}<p class="muted">Cut at {{cutAt}}: <a href="/messages/{{.ID}}">whole message</a></p>{{end}}</details></td>
<td class="num">{{bytes .Size}}</td></tr>
{{else}}<tr><td colspan="5" class="muted">{{if .P.Total}}<a href="/">First page</a>{{else}}No messages yet.{{end}}</td></tr>{{end}}
</tbody></table>
<p class="pager">{{if gt .P.Page 1}}<a href="{{call .Query 1}}">« newest</a><a href="{{call .Query .P.Prev}}">‹ newer</a>{{end}}
{{if .P.Pages}}page {{.P.Page}} of {{.P.Pages}}{{end}}
{{if lt .P.Page .P.Pages}}<a href="{{call .Query .P.Next}}">older ›</a><a href="{{call .Query .P.Pages}}">oldest »</a>{{end}}</p>
</body></html>
`))

var messageTmpl = template.Must(template.New("message").Funcs(tmplFuncs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{if .Subject}}{{.Subject}}{{else}}(no subject){{end}} – stackgen mail catcher</title>
` + pageStyle + `</head><body>
<nav><a href="/">‹ all messages</a><a href="/api/messages/{{.ID}}">JSON</a><a href="/api/messages/{{.ID}}/raw">raw source</a></nav>
<h1>{{if .Subject}}{{.Subject}}{{else}}(no subject){{end}}</h1>
<table>
<tr><th>From</th><td>{{.From}}</td></tr>
<tr><th>To</th><td>{{joinTo .To}}</td></tr>
{{if .Date}}<tr><th>Date</th><td>{{.Date}}</td></tr>{{end}}
<tr><th>Received</th><td>{{time .ReceivedAt}}</td></tr>
<tr><th>Size</th><td>{{bytes .Size}}</td></tr>
</table>
<h2>Text</h2>
<pre>{{.Text}}</pre>
{{if .HTML}}<h2>HTML</h2>
<iframe sandbox srcdoc="{{.HTML}}" title="HTML part"></iframe>{{end}}
</body></html>
`))
