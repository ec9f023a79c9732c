package tui

import "github.com/berthsh/berth/inventory"

func newClusterPage(m *Model) page {
	p := &formPage{m: m, name: "Cluster",
		intro:    "Name the cluster and the environment of the estate it belongs to.",
		prefixes: []string{"apiVersion", "kind", "metadata"}}
	p.build = func() []*field {
		md := &m.inv.Metadata
		g, s := bindString(&md.Name)
		name := newText("metadata.name", "Cluster name", "e.g. payments-uat", g, s)
		name.hint = "lower case letters, digits and '-', at most 40 characters; it names the journal and the kubeconfig"
		g, s = bindString(&md.Environment)
		env := newChoice("metadata.environment", "Environment", inventory.Environments, g, s)
		env.hint = "←/→ to choose"
		g, s = bindString(&md.Description)
		desc := newText("metadata.description", "Description", "optional, for operators", g, s)
		return []*field{name, env, desc}
	}
	return p
}
