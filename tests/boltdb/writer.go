// writer: puts and deletes keys in a Bolt file through docker/libkv's boltdb store, the
// store Traefik 1.x's [boltdb] provider and `traefik storeconfig` used, so the bucket, the
// key spelling and the value encoding (an 8-byte little-endian index before each value) are
// v1's by construction. The tests build it in GOPATH mode, offline:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o writer tests/boltdb/writer.go
//
// Usage: writer FILE OP... where OP is one of
//
//	put KEY VALUE      put one key
//	del KEY            delete one key
//	big KEY N          put a value of N bytes (a repeating pattern): overflow pages
//	many PREFIX N      put PREFIX0000 … PREFIX<N-1> in one open of the file: branch pages
//	bucket NAME        use bucket NAME for the operations after it (default "traefik")
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/docker/libkv/store"
	"github.com/docker/libkv/store/boltdb"
)

func open(path, bucket string, persist bool) store.Store {
	kv, err := boltdb.New([]string{path}, &store.Config{
		Bucket:            bucket,
		ConnectionTimeout: 30 * time.Second,
		PersistConnection: persist,
	})
	if err != nil {
		fail("open %s: %v", path, err)
	}
	return kv
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "writer: "+format+"\n", args...)
	os.Exit(1)
}

func count(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		fail("not a count: %q", s)
	}
	return n
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: writer FILE OP...")
	}
	// libkv makes the file's directory first, and cannot for a bare file name.
	path, err := filepath.Abs(os.Args[1])
	if err != nil {
		fail("%s: %v", os.Args[1], err)
	}
	args, bucket := os.Args[2:], "traefik"
	need := func(n int) {
		if len(args) < n+1 {
			fail("%s needs %d argument(s)", args[0], n)
		}
	}
	for len(args) > 0 {
		switch args[0] {
		case "put":
			need(2)
			kv := open(path, bucket, false)
			if err := kv.Put(args[1], []byte(args[2]), nil); err != nil {
				fail("put %s: %v", args[1], err)
			}
			args = args[3:]
		case "del":
			need(1)
			kv := open(path, bucket, false)
			if err := kv.Delete(args[1]); err != nil {
				fail("del %s: %v", args[1], err)
			}
			args = args[2:]
		case "big":
			need(2)
			n := count(args[2])
			value := make([]byte, n)
			for i := range value {
				value[i] = byte('a' + i%26)
			}
			kv := open(path, bucket, false)
			if err := kv.Put(args[1], value, nil); err != nil {
				fail("big %s: %v", args[1], err)
			}
			args = args[3:]
		case "many":
			need(2)
			n := count(args[2])
			// One open for all of them: libkv's default reopens (and syncs) per key.
			kv := open(path, bucket, true)
			for i := 0; i < n; i++ {
				key := fmt.Sprintf("%s%04d", args[1], i)
				if err := kv.Put(key, []byte("value of "+key), nil); err != nil {
					fail("many %s: %v", key, err)
				}
			}
			kv.Close()
			args = args[3:]
		case "bucket":
			need(1)
			bucket = args[1]
			args = args[2:]
		default:
			fail("unknown operation %q", args[0])
		}
	}
}
