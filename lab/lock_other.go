//go:build !unix

package lab

import (
	"context"
	"errors"
)

type fileLock struct{}

func lockFile(context.Context, string) (*fileLock, error) {
	return nil, errors.New("the lab runs on Linux machines only")
}

func (l *fileLock) unlock() {}
