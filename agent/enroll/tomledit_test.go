package enroll

import (
	"testing"
)

func TestEdit(t *testing.T) {
	for _, c := range []struct {
		name, in string
		sets     []setting
		want     string
	}{
		{
			name: "replace keeps comments and indentation",
			in:   "# top\n[agent]\n  # the id\n  id = \"old\" # trailing\n  interval = \"10s\"\n",
			sets: []setting{{"agent", "id", `"new"`}},
			want: "# top\n[agent]\n  # the id\n  id = \"new\"\n  interval = \"10s\"\n",
		},
		{
			name: "insert after the header with the table's indentation",
			in:   "[agent]\n  ## doc\n  # id = \"web-1\"\n\n[transport]\n",
			sets: []setting{{"agent", "id", `"a"`}, {"transport", "https", `"https://c"`}},
			want: "[agent]\n  id = \"a\"\n  ## doc\n  # id = \"web-1\"\n\n[transport]\nhttps = \"https://c\"\n",
		},
		{
			name: "missing table is appended",
			in:   "[log]\nlevel = \"debug\"",
			sets: []setting{{"transport", "collectors", `["a:1"]`}},
			want: "[log]\nlevel = \"debug\"\n\n[transport]\ncollectors = [\"a:1\"]\n",
		},
		{
			name: "multi-line array replaced whole",
			in:   "[transport]\ncollectors = [\n  \"a:1\", # first\n  \"b:2\",\n]\nca_file = \"/ca\"\n",
			sets: []setting{{"transport", "collectors", `["c:3"]`}},
			want: "[transport]\ncollectors = [\"c:3\"]\nca_file = \"/ca\"\n",
		},
		{
			name: "remove a key",
			in:   "[agent]\nid = \"x\"\ntoken = \"vgl_secret\"\nlabels = { env = \"prod\" }\n",
			sets: []setting{{"agent", "token", ""}},
			want: "[agent]\nid = \"x\"\nlabels = { env = \"prod\" }\n",
		},
		{
			name: "remove an absent key changes nothing",
			in:   "[agent]\nid = \"x\"\n",
			sets: []setting{{"agent", "token", ""}},
			want: "[agent]\nid = \"x\"\n",
		},
		{
			name: "same key in another table is left alone",
			in:   "[plugins.x]\nid = \"p\"\n[agent] # comment\nid = \"a\"\n",
			sets: []setting{{"agent", "id", `"b"`}},
			want: "[plugins.x]\nid = \"p\"\n[agent] # comment\nid = \"b\"\n",
		},
		{
			name: "lines inside a multi-line string are not keys or headers",
			in:   "[plugins.x]\nenv = { A = \"\"\"\n[agent]\nid = \"no\"\n\"\"\" }\n[agent]\nid = \"yes\"\n",
			sets: []setting{{"agent", "id", `"new"`}},
			want: "[plugins.x]\nenv = { A = \"\"\"\n[agent]\nid = \"no\"\n\"\"\" }\n[agent]\nid = \"new\"\n",
		},
		{
			name: "quoted key and header",
			in:   "[\"agent\"]\n\"id\" = \"x\"\n",
			sets: []setting{{"agent", "id", `"y"`}},
			want: "[\"agent\"]\nid = \"y\"\n",
		},
		{
			name: "brackets inside strings do not open arrays",
			in:   "[agent]\nid = \"a[\" \nstate_dir = '/x]'\n[transport]\nhttps = \"old\"\n",
			sets: []setting{{"transport", "https", `"new"`}},
			want: "[agent]\nid = \"a[\" \nstate_dir = '/x]'\n[transport]\nhttps = \"new\"\n",
		},
		{
			name: "empty document",
			in:   "",
			sets: []setting{{"agent", "id", `"a"`}},
			want: "[agent]\nid = \"a\"\n",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := edit(c.in, c.sets); got != c.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}
