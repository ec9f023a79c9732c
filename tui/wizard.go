package tui

import (
	"context"
	"log/slog"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/berthsh/berth/inventory"
)

// Options configures the wizard. Only Files is required; without a Discoverer the wizard cannot test connections
// or discover NICs (NICs are then typed in), without a Preflighter or an Installer those pages say that the
// build lacks them.
type Options struct {
	Context     context.Context      // cancels running probes, preflight and install; nil means Background
	Inventory   *inventory.Inventory // to edit (-i, read with inventory.Parse); nil starts a new one
	Output      string               // file to write; default inventory.yaml
	Dir         string               // directory relative paths of a new inventory resolve against (the output's)
	Bundle      string               // bundle path suggested on the install page
	Discoverer  Discoverer
	Preflighter Preflighter
	Installer   Installer
	Files       Files
	Logger      *slog.Logger
}

// Result is what the wizard did, for the command to report after the program ends.
type Result struct {
	Written   string // path of the inventory written, "" when nothing was written
	Aborted   bool   // the operator quit with ctrl+c
	Preflight string // "passed", "failed" or "" when not run
	Installed string // "done", "failed" or "" when not run
}

// Model is the wizard's bubbletea model. Create it with New and run it with tea.NewProgram.
type Model struct {
	opts   Options
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	inv    *inventory.Inventory

	pages   []page
	cur     int
	visited map[int]bool

	problems inventory.Problems // of the latest validation, errors and warnings
	yaml     []byte             // the inventory as it would be written
	yamlErr  error

	width, height int
	flash         string // one-line notice shown above the help bar until the next key

	disc   *discovery
	saved  *saveState
	pf     *preflightState
	inst   *installState
	result Result
}

// New creates the wizard.
func New(opts Options) *Model {
	if opts.Context == nil {
		opts.Context = context.Background()
	}
	if opts.Output == "" {
		opts.Output = "inventory.yaml"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(opts.Context)
	inv := opts.Inventory
	if inv == nil {
		inv = &inventory.Inventory{APIVersion: inventory.APIVersion, Kind: inventory.Kind}
		if opts.Dir != "" {
			inv.SetDir(opts.Dir)
		}
	}
	m := &Model{opts: opts, log: opts.Logger, ctx: ctx, cancel: cancel, inv: inv, visited: map[int]bool{},
		width: 100, height: 30}
	m.disc = newDiscovery()
	m.saved = &saveState{path: opts.Output}
	m.pf = &preflightState{}
	m.inst = &installState{bundle: opts.Bundle}
	m.pages = []page{
		newClusterPage(m), newSSHPage(m), newHostsPage(m), newPlanesPage(m), newNICsPage(m), newVIPPage(m),
		newDNSPage(m), newExtrasPage(m), newReviewPage(m), newWritePage(m), newPreflightPage(m), newInstallPage(m),
	}
	m.revalidate()
	return m
}

// Inventory returns the inventory being edited.
func (m *Model) Inventory() *inventory.Inventory { return m.inv }

// Result reports what the wizard did; read it after the program ended.
func (m *Model) Result() Result { return m.result }

// Init starts the first page.
func (m *Model) Init() tea.Cmd { return m.pages[m.cur].enter() }

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case tea.KeyMsg:
		m.flash = ""
		switch msg.String() {
		case "ctrl+c":
			m.cancel()
			m.result.Aborted = m.result.Written == ""
			return m, tea.Quit
		case "esc":
			if p := m.pages[m.cur]; p.modal() {
				return m, p.update(msg)
			}
			if m.cur > 0 && m.canLeave() {
				return m, m.goTo(m.cur - 1)
			}
			return m, nil
		}
		return m, m.pages[m.cur].update(msg)
	case probeMsg:
		return m, m.disc.finish(m, msg)
	case writeDoneMsg:
		return m, m.saved.done(m, msg)
	case checkMsg, preflightDoneMsg:
		return m, m.pf.handle(m, msg)
	case installEventMsg, installDoneMsg:
		return m, m.inst.handle(m, msg)
	case quitMsg:
		return m, tea.Quit
	}
	return m, m.pages[m.cur].update(msg)
}

// quitMsg ends the program after the last page.
type quitMsg struct{}

// canLeave reports whether the current page may be left: not while its long work runs.
func (m *Model) canLeave() bool {
	switch m.pages[m.cur].(type) {
	case *preflightPage:
		return !m.pf.running
	case *installPage:
		return !m.inst.running
	}
	return true
}

// goTo leaves the current page and enters page i.
func (m *Model) goTo(i int) tea.Cmd {
	if i < 0 || i >= len(m.pages) {
		return nil
	}
	m.visited[m.cur] = true
	m.cur = i
	m.revalidate()
	return m.pages[i].enter()
}

// next enters the following page.
func (m *Model) next() tea.Cmd { return m.goTo(m.cur + 1) }

// pageIndex returns the index of the first page of type T.
func pageIndex[T page](m *Model) int {
	for i, p := range m.pages {
		if _, ok := p.(T); ok {
			return i
		}
	}
	return -1
}

// jump goes to the page that owns a problem path and focuses its field.
func (m *Model) jump(path string) tea.Cmd {
	for i, p := range m.pages[:pageIndex[*reviewPage](m)] {
		if p.owns(path) {
			cmd := m.goTo(i)
			p.focus(path)
			return cmd
		}
	}
	return nil
}

// changed is called by pages after they changed the inventory.
func (m *Model) changed() { m.revalidate() }
