module github.com/envoyproxy/go-control-plane
