//go:build !unix

package main

import "errors"

func reload([]string) error {
	return errors.New("reload: not supported on this system; restart the service instead")
}
