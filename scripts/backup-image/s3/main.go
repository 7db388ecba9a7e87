// app-databases-s3: the backup runner's client for S3-compatible object
// storage (AWS S3, SeaweedFS, Ceph RGW, Garage, Backblaze B2, ...), standard
// library only, signed with AWS Signature Version 4. Built into the runner
// image by scripts/backup-image.sh; Debian's s3cmd and awscli would bring a
// Python stack into the image for the handful of calls the runner makes.
//
//	app-databases-s3 check               the bucket answers and the keys may write (a probe object)
//	app-databases-s3 put FILE KEY        upload (multipart above 64 MiB)
//	app-databases-s3 copy SRC DST        server-side copy (multipart above 5 GiB)
//	app-databases-s3 get KEY FILE        download
//	app-databases-s3 cat KEY             to standard output
//	app-databases-s3 ls PREFIX           "key<TAB>size" of every object under PREFIX
//	app-databases-s3 rm KEY...           delete
//
// The target comes from the environment: S3_ENDPOINT (http[s]://host[:port]),
// S3_BUCKET, S3_REGION (default us-east-1), S3_ACCESS_KEY_ID,
// S3_SECRET_ACCESS_KEY, S3_PATH_STYLE (true, the default, or false for
// virtual-hosted buckets). Errors go to standard error as one line that says
// what the storage answered; the exit status is 1.
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	partSize     = 64 << 20
	copyPartSize = 1 << 30
	maxCopy      = 5 << 30
	emptySHA256  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

type target struct {
	endpoint  *url.URL
	bucket    string
	region    string
	keyID     string
	secret    string
	pathStyle bool
	http      *http.Client
	now       func() time.Time
}

func targetFromEnv() (*target, error) {
	get := func(name string) (string, error) {
		v := os.Getenv(name)
		if v == "" {
			return "", fmt.Errorf("%s is not set", name)
		}
		return v, nil
	}
	t := &target{region: os.Getenv("S3_REGION"), pathStyle: os.Getenv("S3_PATH_STYLE") != "false", now: time.Now}
	if t.region == "" {
		t.region = "us-east-1"
	}
	raw, err := get("S3_ENDPOINT")
	if err != nil {
		return nil, err
	}
	if t.endpoint, err = url.Parse(raw); err != nil || (t.endpoint.Scheme != "http" && t.endpoint.Scheme != "https") || t.endpoint.Host == "" {
		return nil, fmt.Errorf("S3_ENDPOINT: expected http[s]://host[:port], got %q", raw)
	}
	for _, f := range []struct {
		name string
		to   *string
	}{{"S3_BUCKET", &t.bucket}, {"S3_ACCESS_KEY_ID", &t.keyID}, {"S3_SECRET_ACCESS_KEY", &t.secret}} {
		if *f.to, err = get(f.name); err != nil {
			return nil, err
		}
	}
	t.http = &http.Client{Timeout: 30 * time.Minute}
	return t, nil
}

// uriEncode is SigV4's encoding: every byte but A-Z a-z 0-9 - _ . ~ (and / in paths).
func uriEncode(s string, keepSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~' || (keepSlash && c == '/') {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// request builds a signed request for an object key ("" for the bucket itself).
func (t *target) request(method, key string, query url.Values, body io.Reader, size int64, payloadSHA string, headers map[string]string) (*http.Request, error) {
	host := t.endpoint.Host
	path := "/" + key
	if t.pathStyle {
		path = "/" + t.bucket + "/" + key
	} else {
		host = t.bucket + "." + host
	}
	if key == "" && !t.pathStyle {
		path = "/"
	}
	canonicalURI := uriEncode(strings.TrimSuffix(t.endpoint.Path, "/")+path, true)
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var q []string
	for _, k := range keys {
		q = append(q, uriEncode(k, false)+"="+uriEncode(query.Get(k), false))
	}
	canonicalQuery := strings.Join(q, "&")
	req, err := http.NewRequest(method, t.endpoint.Scheme+"://"+host+canonicalURI+map[bool]string{true: "?" + canonicalQuery}[canonicalQuery != ""], body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	now := t.now().UTC()
	amzDate, day := now.Format("20060102T150405Z"), now.Format("20060102")
	signed := map[string]string{"host": host, "x-amz-date": amzDate, "x-amz-content-sha256": payloadSHA}
	for k, v := range headers {
		signed[strings.ToLower(k)] = v
	}
	names := make([]string, 0, len(signed))
	for k := range signed {
		names = append(names, k)
	}
	sort.Strings(names)
	var canonicalHeaders strings.Builder
	for _, k := range names {
		canonicalHeaders.WriteString(k + ":" + strings.TrimSpace(signed[k]) + "\n")
		if k != "host" {
			req.Header.Set(k, signed[k])
		}
	}
	signedHeaders := strings.Join(names, ";")
	canonical := strings.Join([]string{method, canonicalURI, canonicalQuery, canonicalHeaders.String(), signedHeaders, payloadSHA}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	scope := day + "/" + t.region + "/s3/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	k := hmacSHA256([]byte("AWS4"+t.secret), day)
	k = hmacSHA256(k, t.region)
	k = hmacSHA256(k, "s3")
	k = hmacSHA256(k, "aws4_request")
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		t.keyID, scope, signedHeaders, hex.EncodeToString(hmacSHA256(k, toSign))))
	return req, nil
}

type s3Error struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// explain turns an error answer into one line a person can act on.
func (t *target) explain(status int, body []byte) error {
	var e s3Error
	_ = xml.Unmarshal(body, &e)
	switch {
	case e.Code == "NoSuchBucket" || (e.Code == "" && status == http.StatusNotFound):
		return fmt.Errorf("bucket %s does not exist at %s (NoSuchBucket): create it, or fix the target's bucket", t.bucket, t.endpoint)
	case e.Code == "InvalidAccessKeyId" || e.Code == "SignatureDoesNotMatch" || e.Code == "AccessDenied" || status == http.StatusForbidden:
		code := e.Code
		if code == "" {
			code = strconv.Itoa(status)
		}
		return fmt.Errorf("access denied to bucket %s at %s (%s): check the target's access key id and secret key, and that they may read and write the bucket", t.bucket, t.endpoint, code)
	case e.Code != "":
		return fmt.Errorf("%s at %s answered %d %s: %s", t.bucket, t.endpoint, status, e.Code, e.Message)
	}
	return fmt.Errorf("%s at %s answered %d: %s", t.bucket, t.endpoint, status, strings.TrimSpace(string(body)))
}

// do sends a request and returns the body of a 2xx answer (an error body in a 200, as CopyObject may send, is an error).
func (t *target) do(method, key string, query url.Values, body io.Reader, size int64, payloadSHA string, headers map[string]string) ([]byte, http.Header, error) {
	req, err := t.request(method, key, query, body, size, payloadSHA, headers)
	if err != nil {
		return nil, nil, err
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach %s: %v", t.endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer of %s: %v", t.endpoint, err)
	}
	if resp.StatusCode/100 != 2 || bytes.Contains(data[:min(len(data), 256)], []byte("<Error>")) {
		return nil, nil, t.explain(resp.StatusCode, data)
	}
	return data, resp.Header, nil
}

func sha256Of(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (t *target) putBytes(key string, data []byte, query url.Values) (http.Header, error) {
	sum := sha256.Sum256(data)
	_, h, err := t.do("PUT", key, query, bytes.NewReader(data), int64(len(data)), hex.EncodeToString(sum[:]), nil)
	return h, err
}

func (t *target) put(file, key string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.Size() <= partSize {
		data, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		_, err = t.putBytes(key, data, nil)
		return err
	}
	// Multipart: the object appears only when the upload is completed.
	return t.multipart(key, func(part int, upload url.Values) (string, bool, error) {
		buf := make([]byte, partSize)
		n, err := io.ReadFull(f, buf)
		if n == 0 {
			return "", true, nil
		}
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return "", false, err
		}
		h, err := t.putBytes(key, buf[:n], upload)
		if err != nil {
			return "", false, err
		}
		return h.Get("ETag"), false, nil
	})
}

type completePart struct {
	PartNumber int    `xml:"PartNumber"`
	ETag       string `xml:"ETag"`
}

// multipart runs one multipart upload; next uploads part N (given the part's query) and returns its ETag, or done.
func (t *target) multipart(key string, next func(part int, query url.Values) (etag string, done bool, err error)) error {
	data, _, err := t.do("POST", key, url.Values{"uploads": {""}}, nil, 0, emptySHA256, nil)
	if err != nil {
		return err
	}
	var created struct {
		UploadID string `xml:"UploadId"`
	}
	if err := xml.Unmarshal(data, &created); err != nil || created.UploadID == "" {
		return fmt.Errorf("starting a multipart upload of %s: no UploadId in %q", key, data)
	}
	abort := func(cause error) error {
		_, _, _ = t.do("DELETE", key, url.Values{"uploadId": {created.UploadID}}, nil, 0, emptySHA256, nil)
		return cause
	}
	var parts []completePart
	for n := 1; ; n++ {
		etag, done, err := next(n, url.Values{"partNumber": {strconv.Itoa(n)}, "uploadId": {created.UploadID}})
		if err != nil {
			return abort(err)
		}
		if done {
			break
		}
		parts = append(parts, completePart{n, etag})
	}
	body, _ := xml.Marshal(struct {
		XMLName xml.Name       `xml:"CompleteMultipartUpload"`
		Parts   []completePart `xml:"Part"`
	}{Parts: parts})
	sum := sha256.Sum256(body)
	if _, _, err := t.do("POST", key, url.Values{"uploadId": {created.UploadID}}, bytes.NewReader(body), int64(len(body)), hex.EncodeToString(sum[:]), nil); err != nil {
		return abort(err)
	}
	return nil
}

func (t *target) size(key string) (int64, error) {
	_, h, err := t.do("HEAD", key, nil, nil, 0, emptySHA256, nil)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(h.Get("Content-Length"), 10, 64)
}

func (t *target) copy(src, dst string) error {
	source := map[string]string{"x-amz-copy-source": "/" + t.bucket + "/" + uriEncode(src, true)}
	size, err := t.size(src)
	if err != nil {
		return err
	}
	if size <= maxCopy {
		_, _, err = t.do("PUT", dst, nil, nil, 0, emptySHA256, source)
		return err
	}
	var offset int64
	return t.multipart(dst, func(part int, query url.Values) (string, bool, error) {
		if offset >= size {
			return "", true, nil
		}
		end := min(offset+copyPartSize, size) - 1
		headers := map[string]string{"x-amz-copy-source": source["x-amz-copy-source"], "x-amz-copy-source-range": fmt.Sprintf("bytes=%d-%d", offset, end)}
		data, _, err := t.do("PUT", dst, query, nil, 0, emptySHA256, headers)
		if err != nil {
			return "", false, err
		}
		var r struct {
			ETag string `xml:"ETag"`
		}
		_ = xml.Unmarshal(data, &r)
		offset = end + 1
		return r.ETag, false, nil
	})
}

func (t *target) get(key string, w io.Writer) error {
	req, err := t.request("GET", key, nil, nil, 0, emptySHA256, nil)
	if err != nil {
		return err
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %v", t.endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(resp.Body)
		var e s3Error
		if xml.Unmarshal(data, &e) == nil && e.Code == "NoSuchKey" {
			return fmt.Errorf("no object %s in bucket %s", key, t.bucket)
		}
		return t.explain(resp.StatusCode, data)
	}
	n, err := io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("%s: got %d of %d bytes", key, n, resp.ContentLength)
	}
	return err
}

type listed struct {
	Key  string `xml:"Key"`
	Size int64  `xml:"Size"`
}

func (t *target) list(prefix string, max int) ([]listed, error) {
	var all []listed
	token := ""
	for {
		q := url.Values{"list-type": {"2"}, "prefix": {prefix}}
		if max > 0 {
			q.Set("max-keys", strconv.Itoa(max))
		}
		if token != "" {
			q.Set("continuation-token", token)
		}
		data, _, err := t.do("GET", "", q, nil, 0, emptySHA256, nil)
		if err != nil {
			return nil, err
		}
		var page struct {
			Contents    []listed `xml:"Contents"`
			IsTruncated bool     `xml:"IsTruncated"`
			Next        string   `xml:"NextContinuationToken"`
		}
		if err := xml.Unmarshal(data, &page); err != nil {
			return nil, fmt.Errorf("listing %s: %v", prefix, err)
		}
		all = append(all, page.Contents...)
		if !page.IsTruncated || page.Next == "" || max > 0 {
			return all, nil
		}
		token = page.Next
	}
}

func (t *target) remove(key string) error {
	_, _, err := t.do("DELETE", key, nil, nil, 0, emptySHA256, nil)
	return err
}

// check lists the bucket and writes, then deletes, a probe object under prefix.
func (t *target) check(prefix string) error {
	if _, err := t.list(prefix, 1); err != nil {
		return err
	}
	probe := prefix + ".write-test-" + strconv.Itoa(os.Getpid())
	if _, err := t.putBytes(probe, []byte("app-databases"), nil); err != nil {
		return err
	}
	return t.remove(probe)
}

func run(args []string) error {
	usage := errors.New("usage: app-databases-s3 check [PREFIX] | put FILE KEY | copy SRC DST | get KEY FILE | cat KEY | ls PREFIX | rm KEY...")
	if len(args) == 0 {
		return usage
	}
	t, err := targetFromEnv()
	if err != nil {
		return err
	}
	arity := map[string]int{"put": 2, "copy": 2, "get": 2, "cat": 1, "ls": 1}
	if n, ok := arity[args[0]]; ok && len(args) != n+1 {
		return usage
	}
	switch args[0] {
	case "check":
		prefix := ""
		if len(args) > 1 {
			prefix = args[1]
		}
		return t.check(prefix)
	case "put":
		return t.put(args[1], args[2])
	case "copy":
		return t.copy(args[1], args[2])
	case "get":
		f, err := os.Create(args[2])
		if err != nil {
			return err
		}
		if err := t.get(args[1], f); err != nil {
			f.Close()
			os.Remove(args[2])
			return err
		}
		return f.Close()
	case "cat":
		return t.get(args[1], os.Stdout)
	case "ls":
		objects, err := t.list(args[1], 0)
		if err != nil {
			return err
		}
		for _, o := range objects {
			fmt.Printf("%s\t%d\n", o.Key, o.Size)
		}
		return nil
	case "rm":
		for _, key := range args[1:] {
			if err := t.remove(key); err != nil {
				return err
			}
		}
		return nil
	}
	return usage
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
