package main

import (
	"net/url"
	"testing"
	"time"
)

// The worked example of AWS's Signature Version 4 documentation for S3
// ("GET Object", a ranged read of examplebucket/test.txt).
func TestRequestSignsAsAWSDocumentsIt(t *testing.T) {
	endpoint, _ := url.Parse("https://s3.amazonaws.com")
	tg := &target{endpoint: endpoint, bucket: "examplebucket", region: "us-east-1", keyID: "AKIAIOSFODNN7EXAMPLE",
		secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", pathStyle: false,
		now: func() time.Time { return time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC) }}
	req, err := tg.request("GET", "test.txt", nil, nil, 0, emptySHA256, map[string]string{"Range": "bytes=0-9"})
	if err != nil {
		t.Fatal(err)
	}
	want := "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
		"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
	if got := req.Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization:\n got %s\nwant %s", got, want)
	}
	if req.URL.String() != "https://examplebucket.s3.amazonaws.com/test.txt" {
		t.Fatalf("URL %s", req.URL)
	}
}

func TestURIEncodeKeepsOnlyUnreservedBytes(t *testing.T) {
	for in, want := range map[string]string{"a b/c~d": "a%20b/c~d", "é": "%C3%A9", "x=y&z": "x%3Dy%26z"} {
		if got := uriEncode(in, true); got != want {
			t.Errorf("uriEncode(%q) = %q, want %q", in, got, want)
		}
	}
}
