package installer

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthsh/berth/internal/phase"
)

// deleteNode deletes the removed node's Node object, after its host was reset (a kubelet still running would
// register it again). The pods bound to it go with it, and their controllers start them elsewhere.
type deleteNode struct {
	phase.Base
	r *removal

	exists bool
}

func (p *deleteNode) Title() string { return "Delete the Node" }
func (p *deleteNode) Name() string  { return "delete-node" }

func (p *deleteNode) Prepare(ctx context.Context) error {
	k, err := p.r.c.Kube(ctx)
	if err != nil {
		return err
	}
	_, err = k.Clientset().CoreV1().Nodes().Get(ctx, p.r.o.Node, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("read node %s: %w", p.r.o.Node, err)
	}
	p.exists = true
	return nil
}

func (p *deleteNode) ShouldRun() bool { return p.exists }

func (p *deleteNode) Run(ctx context.Context) error {
	node := p.r.o.Node
	return p.Wet("", "delete node "+node, func() error {
		k, err := p.r.c.Kube(ctx)
		if err != nil {
			return err
		}
		if err := k.Clientset().CoreV1().Nodes().Delete(ctx, node, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete node %s: %w", node, err)
		}
		return nil
	})
}
