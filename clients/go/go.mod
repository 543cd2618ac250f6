module example.com/provenance/clients/go

go 1.19

require (
	github.com/golang/protobuf v1.5.2
	google.golang.org/genproto v0.0.0-20200526211855-cb27e3aa2013
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)

require (
	golang.org/x/net v0.3.0 // indirect
	golang.org/x/sys v0.5.0 // indirect
	golang.org/x/text v0.7.0 // indirect
)

// Built offline from Debian's packages (golang-google-grpc-dev and the
// packages it depends on): every module comes from /usr/share/gocode/src,
// whatever version is named above. README.md gives the environment.
replace (
	cloud.google.com/go/compute/metadata => /usr/share/gocode/src/cloud.google.com/go/compute/metadata
	github.com/golang/glog => /usr/share/gocode/src/github.com/golang/glog
	github.com/golang/protobuf => /usr/share/gocode/src/github.com/golang/protobuf
	github.com/google/go-cmp => /usr/share/gocode/src/github.com/google/go-cmp
	golang.org/x/net => /usr/share/gocode/src/golang.org/x/net
	golang.org/x/oauth2 => /usr/share/gocode/src/golang.org/x/oauth2
	golang.org/x/sys => /usr/share/gocode/src/golang.org/x/sys
	golang.org/x/text => /usr/share/gocode/src/golang.org/x/text
	google.golang.org/genproto => /usr/share/gocode/src/google.golang.org/genproto
	google.golang.org/grpc => /usr/share/gocode/src/google.golang.org/grpc
	google.golang.org/protobuf => /usr/share/gocode/src/google.golang.org/protobuf
)

// Modules that Debian's go.mod files require but that no Debian package
// installs; nothing built here imports them, so the go command only needs
// their go.mod (third_party/stubs/README.md).
replace (
	github.com/cncf/udpa/go => ./third_party/stubs/github.com/cncf/udpa/go
	github.com/envoyproxy/go-control-plane => ./third_party/stubs/github.com/envoyproxy/go-control-plane
	github.com/google/uuid => ./third_party/stubs/github.com/google/uuid
	golang.org/x/lint => ./third_party/stubs/golang.org/x/lint
	golang.org/x/mod => ./third_party/stubs/golang.org/x/mod
	golang.org/x/term => ./third_party/stubs/golang.org/x/term
	golang.org/x/tools => ./third_party/stubs/golang.org/x/tools
	google.golang.org/appengine => ./third_party/stubs/google.golang.org/appengine
	honnef.co/go/tools => ./third_party/stubs/honnef.co/go/tools
)
