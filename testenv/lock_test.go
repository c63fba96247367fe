package testenv

import (
	"testing"
	"time"
)

func TestLockFileIsExclusive(t *testing.T) {
	name := Name(t)
	unlock, err := lockFile(name)
	if err != nil {
		t.Fatal(err)
	}
	acquired := make(chan func(), 1)
	go func() {
		second, err := lockFile(name)
		if err != nil {
			t.Error(err)
			second = func() {}
		}
		acquired <- second
	}()
	select {
	case second := <-acquired:
		second()
		unlock()
		t.Fatal("a second holder got the lock while the first held it")
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	select {
	case second := <-acquired:
		second()
	case <-time.After(10 * time.Second):
		t.Fatal("the second holder never got the lock after it was released")
	}
}
