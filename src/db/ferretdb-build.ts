// Finds or builds the FerretDB v1 binary behind Keyport's embedded database.
//
// The build uses the Go module proxy: `go mod download` fetches the release's
// source (checksummed against the Go checksum database), then `go build`
// compiles ./cmd/ferretdb. A plain `go install …/cmd/ferretdb@v1.24.2` builds
// too, but the binary panics at start ("Invalid build/version/version.txt file
// content"): the module zip lacks the version.txt that FerretDB's release
// tooling generates. We write that one file (the version string) into a copy
// of the source before building, which is what FerretDB's own `task
// gen-version` does.
//
// A few more edits to that copy (SOURCE_PATCHES) make v1.24.2's SQLite backend
// narrow queries in SQLite: by the _id index, which it never used (every read,
// update and delete of one keypair scanned the table: 1.3 ms at 100 keypairs,
// 384 ms at 100 000), and by simple equalities before decoding documents in Go;
// and run the sort, limit and count of the finds and counts Keyport marks as
// exact in SQLite, through an index (KEYPORT_EXACT_GO: the keypair lists).
// Others make its updates atomic, as MongoDB's are (below, KEYPORT_ATOMIC_WRITES_GO),
// turn off a leak detector meant for its debug builds, and let it stop with
// the process that started it (KEYPORT_STOP_WITH_PARENT_GO).
// Each edit must match the release's source exactly, or the build stops.
// One file, over 400 lines, on purpose: most of it is the Go source of those
// edits, which is reviewed together with the build that applies it.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FERRETDB_MODULE = 'github.com/FerretDB/FerretDB';
export const FERRETDB_VERSION = 'v1.24.2';
/** Bumped whenever SOURCE_PATCHES change, so that no cached binary of older patches is reused. */
const KEYPORT_PATCH_LEVEL = 'keyport.5';
/**
 * The patch level from which updates, findAndModify and deletes are atomic (see
 * KEYPORT_ATOMIC_WRITES_GO). The build writes it into FerretDB's version
 * (`v1.24.2-keyport.4`, what buildInfo reports as ferretdbVersion), so that
 * Keyport can tell such a build from any other FerretDB v1 (FERRETDB_BIN).
 */
export const ATOMIC_WRITES_PATCH_LEVEL = 4;
/** The build's name in paths: the FerretDB release plus our patch level. */
const BUILD_NAME = `ferretdb-${FERRETDB_VERSION}-${KEYPORT_PATCH_LEVEL}`;

/** An edit of the release's source: replace text (an exact count: a changed source stops the build), or add a file. */
type SourcePatch =
  | { file: string; find: string; replace: string; occurrences: number }
  | { file: string; create: string };

/**
 * Narrows a query in SQLite before FerretDB decodes documents in Go. It must
 * select a superset of the matching documents (the handler filters again):
 *  - _id equal to a string or ObjectID: the _id index (upstream did this for a
 *    filter of _id alone);
 *  - another top-level field equal to a string of plain characters (ids, names):
 *    rows whose field holds that string, or an array (MongoDB's equality also
 *    matches an array holding the value); an index on the field serves both. Plain characters only, so that the
 *    JSON text of the value is the same whoever writes it (Go or SQLite).
 * A key that appears twice in the filter is left alone (types.Document.Get panics on it).
 */
const KEYPORT_PREFILTER_GO = `// Added by Keyport's build of FerretDB v1.24.2 (src/db/ferretdb-build.ts in Keyport).

package sqlite

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

var (
	keyportPlainField  = regexp.MustCompile(\`^[A-Za-z_][A-Za-z0-9_]*$\`)
	keyportPlainString = regexp.MustCompile(\`^[A-Za-z0-9_.:@ -]*$\`)
)

// keyportPrefilter returns a WHERE clause selecting a superset of the documents matching filter.
func keyportPrefilter(filter *types.Document) (string, []any) {
	keys := filter.Keys()
	seen := make(map[string]int, len(keys))
	for _, key := range keys {
		seen[key]++
	}

	var conditions []string
	var args []any

	for _, key := range keys {
		if seen[key] != 1 {
			continue
		}

		value := must.NotFail(filter.Get(key))

		if key == "_id" {
			switch value.(type) {
			case string, types.ObjectID:
				conditions = append(conditions, fmt.Sprintf(\`%s = ?\`, metadata.IDColumn))
				args = append(args, string(must.NotFail(sjson.MarshalSingleValue(value))))
			}

			continue
		}

		s, ok := value.(string)
		if !ok || !keyportPlainField.MatchString(key) || !keyportPlainString.MatchString(s) {
			continue
		}

		// Written as FerretDB writes index columns (col->"field", the same as col->'field'),
		// so that SQLite can use an index on the field for both alternatives:
		// the value, or the JSON text of an array ('[' up to, not including, '\\').
		path := fmt.Sprintf(\`%s->'%s'\`, metadata.DefaultColumn, key)
		conditions = append(conditions, fmt.Sprintf(\`(%s = ? OR (%s >= '[' AND %s < '\\'))\`, path, path, path))
		args = append(args, string(must.NotFail(sjson.MarshalSingleValue(s))))
	}

	if len(conditions) == 0 {
		return "", nil
	}

	return " WHERE " + strings.Join(conditions, " AND "), args
}
`;

/**
 * Sorted, limited pages served by an index (issue 16: lists of 100 000 keypairs).
 * FerretDB v1 pushes a limit down only for a query with no filter and no sort,
 * and a sort only on $natural: a page of a large list made it decode, sort and
 * count every match in Go. A find whose comment carries "keyport:exact" (a
 * declaration by Keyport that every top-level field it names is present and
 * scalar in every document) gets its sort on top-level fields ending with _id,
 * and its limit, run by SQLite, but only when keyportExactConditions translates
 * the whole filter exactly; anything else falls back to the narrowing above.
 * The handler still filters, sorts and limits what SQLite returns, so the SQL
 * only has to return exactly the right first rows in the right order.
 */
const KEYPORT_EXACT_GO = `// Added by Keyport's build of FerretDB v1.24.2 (src/db/ferretdb-build.ts in Keyport).

package sqlite

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/fsql"
	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// keyportOrderedString matches the strings whose JSON text sorts as the string
// does (bytewise): no character that JSON escapes and none below '#', so that
// the closing quote sorts before any character a longer string continues with.
var keyportOrderedString = regexp.MustCompile(\`^[A-Za-z0-9_.:-]*$\`)

// keyportQuery returns the WHERE clause and its arguments, and, for an exact
// query (the handler sets exactSort and exactLimit only for a find whose
// comment carries "keyport:exact"), the ORDER BY clause and the LIMIT to
// append. The sort and limit are pushed down only when the whole filter
// translates to SQL exactly: SQLite must return exactly the first rows, in
// order, that the handler would have kept after filtering and sorting all of
// them. Otherwise the query is only narrowed (keyportPrefilter), as before.
func keyportQuery(filter, sort, exactSort *types.Document, exactLimit int64) (string, []any, string, int64) {
	if exactSort.Len() > 0 && exactLimit > 0 && sort.Len() == 0 {
		if orderBy, ok := keyportOrderBy(exactSort); ok {
			if conditions, args, ok := keyportExactConditions(filter); ok {
				where := ""
				if len(conditions) > 0 {
					where = " WHERE " + strings.Join(conditions, " AND ")
				}

				return where, args, orderBy, exactLimit
			}
		}
	}

	where, args := keyportPrefilter(filter)

	return where, args, "", 0
}

// keyportCount answers an exact count (the handler sets KeyportCountLimit only
// for a count whose comment carries "keyport:exact") in SQLite, up to the limit,
// when the whole filter translates exactly; ok is false otherwise, and the
// count runs as upstream's (every matching document decoded and filtered in Go).
func keyportCount(ctx context.Context, db *fsql.DB, table string, params *backends.QueryParams) (*backends.QueryResult, bool, error) {
	if params.KeyportCountLimit <= 0 || params.Sort.Len() != 0 {
		return nil, false, nil
	}

	conditions, args, ok := keyportExactConditions(params.Filter)
	if !ok {
		return nil, false, nil
	}

	where := ""
	if len(conditions) > 0 {
		where = " WHERE " + strings.Join(conditions, " AND ")
	}

	q := fmt.Sprintf(\`SELECT count(*) FROM (SELECT 1 FROM %q%s LIMIT ?)\`, table, where)

	var n int64
	if err := db.QueryRowContext(ctx, q, append(args, params.KeyportCountLimit)...).Scan(&n); err != nil {
		return nil, false, lazyerrors.Error(err)
	}

	return &backends.QueryResult{
		Iter:           newQueryIterator(ctx, nil, params.OnlyRecordIDs),
		KeyportCount:   n,
		KeyportCounted: true,
	}, true, nil
}

// keyportOrderBy translates a sort on top-level fields that ends with _id (a
// total order, so that ties cannot pick different rows than the handler would).
func keyportOrderBy(sort *types.Document) (string, bool) {
	keys := sort.Keys()
	if len(keys) == 0 || keys[len(keys)-1] != "_id" {
		return "", false
	}

	terms := make([]string, 0, len(keys))

	for _, key := range keys {
		if !keyportPlainField.MatchString(key) {
			return "", false
		}

		var direction int64

		switch v := must.NotFail(sort.Get(key)).(type) {
		case int64:
			direction = v
		case int32:
			direction = int64(v)
		case float64:
			direction = int64(v)
		default:
			return "", false
		}

		switch direction {
		case 1:
			terms = append(terms, keyportPath(key))
		case -1:
			terms = append(terms, keyportPath(key)+" DESC")
		default:
			return "", false
		}
	}

	return " ORDER BY " + strings.Join(terms, ", "), true
}

// keyportPath is a top-level field as FerretDB writes index columns, so that
// SQLite uses an index on the field (for _id: the same as metadata.IDColumn).
func keyportPath(key string) string {
	return fmt.Sprintf(\`%s->'%s'\`, metadata.DefaultColumn, key)
}

// keyportExactConditions translates a filter to SQL conditions selecting exactly
// the documents MongoDB would match, given what "keyport:exact" declares: every
// top-level field the query names is present in every document, holding a
// scalar (a string, a boolean, a date or null), never an array or a document.
// Supported: equality to a plain string, ObjectID, boolean or null; $gt, $gte,
// $lt, $lte on an ordered string or a date; $exists; $and and $or of those.
func keyportExactConditions(filter *types.Document) ([]string, []any, bool) {
	keys := filter.Keys()
	seen := make(map[string]bool, len(keys))

	var conditions []string
	var args []any

	for _, key := range keys {
		if seen[key] {
			return nil, nil, false
		}

		seen[key] = true
		value := must.NotFail(filter.Get(key))

		var condition string
		var conditionArgs []any
		var ok bool

		switch {
		case key == "$and" || key == "$or":
			condition, conditionArgs, ok = keyportExactLogical(key, value)
		case keyportPlainField.MatchString(key):
			condition, conditionArgs, ok = keyportExactField(key, value)
		}

		if !ok {
			return nil, nil, false
		}

		conditions = append(conditions, condition)
		args = append(args, conditionArgs...)
	}

	return conditions, args, true
}

func keyportExactLogical(operator string, value any) (string, []any, bool) {
	array, ok := value.(*types.Array)
	if !ok || array.Len() == 0 {
		return "", nil, false
	}

	parts := make([]string, 0, array.Len())

	var args []any

	for i := 0; i < array.Len(); i++ {
		doc, ok := must.NotFail(array.Get(i)).(*types.Document)
		if !ok {
			return "", nil, false
		}

		conditions, conditionArgs, ok := keyportExactConditions(doc)
		if !ok {
			return "", nil, false
		}

		if len(conditions) == 0 {
			conditions = []string{"1"} // {} matches every document
		}

		parts = append(parts, "("+strings.Join(conditions, " AND ")+")")
		args = append(args, conditionArgs...)
	}

	separator := " AND "
	if operator == "$or" {
		separator = " OR "
	}

	return "(" + strings.Join(parts, separator) + ")", args, true
}

func keyportExactField(key string, value any) (string, []any, bool) {
	path := keyportPath(key)

	switch v := value.(type) {
	case string:
		if !keyportPlainString.MatchString(v) {
			return "", nil, false
		}
	case types.ObjectID, bool, types.NullType:
		// Their JSON text is the same whoever writes it.
	case *types.Document:
		return keyportExactOperators(path, key, v)
	default:
		return "", nil, false
	}

	return path + " = ?", []any{string(must.NotFail(sjson.MarshalSingleValue(value)))}, true
}

var keyportComparisons = map[string]string{"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}

func keyportExactOperators(path, key string, operators *types.Document) (string, []any, bool) {
	if operators.Len() == 0 {
		return "", nil, false
	}

	var conditions []string
	var args []any

	// Which sides of a string range have a bound: the JSON text of a string bound
	// is itself a string's (from '"' up to, not including, '#'), so a side without
	// one gets that as its bound, to keep other types out (MongoDB compares within
	// a type); a side with one gets nothing more, so that SQLite bounds its index
	// range by the value and not by the wider constant.
	var stringLower, stringUpper, stringRange bool

	for _, operator := range operators.Keys() {
		value := must.NotFail(operators.Get(operator))

		if operator == "$exists" {
			exists, ok := value.(bool)
			if !ok {
				return "", nil, false
			}

			if exists {
				conditions = append(conditions, path+" IS NOT NULL")
			} else {
				conditions = append(conditions, path+" IS NULL")
			}

			continue
		}

		comparison, ok := keyportComparisons[operator]
		if !ok {
			return "", nil, false
		}

		switch v := value.(type) {
		case string:
			if !keyportOrderedString.MatchString(v) {
				return "", nil, false
			}

			// On the JSON text, where the index is.
			conditions = append(conditions, fmt.Sprintf(\`%s %s ?\`, path, comparison))
			args = append(args, string(must.NotFail(sjson.MarshalSingleValue(v))))
			stringRange = true
			stringLower = stringLower || operator == "$gt" || operator == "$gte"
			stringUpper = stringUpper || operator == "$lt" || operator == "$lte"
		case time.Time:
			// sjson stores a date as its milliseconds since the epoch, a JSON number:
			// ->> reads it as an integer, and null or a missing field as NULL (no match).
			conditions = append(conditions, fmt.Sprintf(\`%s->>'%s' %s ?\`, metadata.DefaultColumn, key, comparison))
			args = append(args, v.UnixMilli())
		default:
			return "", nil, false
		}
	}

	if stringRange && !stringLower {
		conditions = append(conditions, path+\` >= '"'\`)
	}

	if stringRange && !stringUpper {
		conditions = append(conditions, path+\` < '#'\`)
	}

	return "(" + strings.Join(conditions, " AND ") + ")", args, true
}
`;

/** The handler's side of KEYPORT_EXACT_GO: which finds (and explains of finds) ask for it. */
const KEYPORT_EXACT_HANDLER_GO = `// Added by Keyport's build of FerretDB v1.24.2 (src/db/ferretdb-build.ts in Keyport).

package handler

import (
	"strings"

	"github.com/FerretDB/FerretDB/internal/types"
)

// keyportExactMarker, in a find's comment, declares that every top-level field
// the query names is present in every document and holds a scalar: the backend
// may then run the sort and the limit in SQL when it can translate the whole
// filter exactly. MongoDB ignores the comment (it only shows in its logs and profiler).
const keyportExactMarker = "keyport:exact"

// keyportExact returns the sort and the limit (skip included: the handler still
// skips) that the backend may push down, or nothing.
func keyportExact(disabled bool, comment string, sort *types.Document, limit, skip int64) (*types.Document, int64) {
	if disabled || !strings.Contains(comment, keyportExactMarker) || sort.Len() == 0 || limit <= 0 || skip < 0 {
		return nil, 0
	}

	return sort, limit + skip
}

// keyportCountLimit returns the limit (skip included: the handler skips) under
// which the backend may count an exact count itself, or 0.
func keyportCountLimit(disabled bool, comment string, limit, skip int64) int64 {
	if disabled || !strings.Contains(comment, keyportExactMarker) || limit <= 0 || skip < 0 {
		return 0
	}

	return limit + skip
}

// keyportExplainComment is the comment of an explained find.
func keyportExplainComment(command *types.Document) string {
	if command == nil || !command.Has("comment") {
		return ""
	}

	comment, _ := command.Get("comment")
	s, _ := comment.(string)

	return s
}
`;

/**
 * FerretDB v1 runs update, findAndModify and delete as: query the matching
 * documents, change them in Go, write each back by _id, each step its own
 * SQLite transaction. Two such commands on one document interleave, and one of
 * them is lost ($inc counts vanish; a conditional update matches a state that
 * is already gone; a write of one field puts back old values of the others).
 * MongoDB makes each single-document write atomic. One FerretDB process serves
 * a data directory (Keyport's launcher sees to that) and SQLite commits one
 * write at a time anyway, so these commands simply take turns in the handler:
 * each one's read and write then happen with no other write in between.
 *
 * Update and findAndModify also read their documents to the end and close the
 * query before writing, as upstream's delete already does ("close read
 * transaction before starting write transaction"): a write made while its own
 * read is open keeps SQLite from ever restarting the WAL when such writes
 * follow each other (there is always a reader), so the WAL grew past 100 MB in
 * a minute of wrong secrets (a 400 KB database) and every commit ran a checkpoint.
 */
const KEYPORT_ATOMIC_WRITES_GO = `// Added by Keyport's build of FerretDB v1.24.2 (src/db/ferretdb-build.ts in Keyport).

package handler

import (
	"context"
	"sync"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/handler/common"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/iterator"
)

// keyportWrites is held by update, findAndModify and delete for the whole of
// their read-modify-write, which makes them atomic with respect to each other.
var keyportWrites sync.Mutex

func (h *Handler) keyportUpdateDocument(ctx context.Context, params *common.UpdateParams) (int32, int32, *types.Array, error) {
	keyportWrites.Lock()
	defer keyportWrites.Unlock()

	return h.updateDocument(ctx, params)
}

func (h *Handler) keyportFindAndModifyDocument(ctx context.Context, params *common.FindAndModifyParams) (*findAndModifyResult, error) {
	keyportWrites.Lock()
	defer keyportWrites.Unlock()

	return h.findAndModifyDocument(ctx, params)
}

func (h *Handler) keyportExecDelete(ctx context.Context, c backends.Collection, p *common.Delete) (int32, error) {
	keyportWrites.Lock()
	defer keyportWrites.Unlock()

	return h.execDelete(ctx, c, p)
}

// keyportReadThenClose reads all documents of iter, then closes query (which
// holds SQLite's read transaction), so that the write that follows runs with no
// read of its own still open.
func keyportReadThenClose(iter types.DocumentsIterator, query types.DocumentsIterator) (types.DocumentsIterator, error) {
	docs, err := iterator.ConsumeValues(iter)
	query.Close()

	if err != nil {
		return nil, err
	}

	return iterator.Values(iterator.ForSlice(docs)), nil
}
`;

/**
 * The embedded FerretDB must not outlive the Keyport process that started it:
 * an orphan keeps the data directory and a port, and a test or benchmark run
 * that is killed would leave one per server. Node cannot ask Linux to signal a
 * child when its parent dies, so the launcher passes a pipe as standard input
 * and this stops FerretDB, as a SIGTERM does, when the pipe closes: that
 * happens when the parent exits, however it exits (SIGKILL and crashes included).
 */
const KEYPORT_STOP_WITH_PARENT_GO = `// Added by Keyport's build of FerretDB v1.24.2 (src/db/ferretdb-build.ts in Keyport).

//go:build unix

package main

import (
	"io"
	"os"
	"syscall"
)

// With KEYPORT_STOP_WITH_PARENT=1, FerretDB shuts down when its standard input
// closes, i.e. when the process holding the other end of the pipe has exited.
func init() {
	if os.Getenv("KEYPORT_STOP_WITH_PARENT") != "1" {
		return
	}

	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}()
}
`;

/** v1.24.2's narrowing of a query in Collection.Query and Collection.Explain (the latter also sets filterPushdown). */
function upstreamIdPushdown(explainLine: string): string {
  return `	if params.Filter.Len() == 1 {
		v, _ := params.Filter.Get("_id")
		switch v.(type) {
		case string, types.ObjectID:
${explainLine}			whereClause = fmt.Sprintf(\` WHERE %s = ?\`, metadata.IDColumn)
			args = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
		}
	}`;
}

export const SOURCE_PATCHES: readonly SourcePatch[] = [
  {
    // The unique _id index is created on `_ferretdb_sjson->"_id"`, but queries,
    // updates and deletes by _id compare `_ferretdb_sjson->'$._id'`: the same value,
    // yet a different expression, so SQLite never uses the index (EXPLAIN QUERY
    // PLAN: SCAN). Writing the path as the index does makes them index lookups.
    file: 'internal/backends/sqlite/metadata/metadata.go',
    find: `IDColumn = DefaultColumn + "->'$._id'"`,
    replace: `IDColumn = DefaultColumn + "->'_id'"`,
    occurrences: 1,
  },
  {
    // The SQLite backend narrows a query only for a filter of _id alone: any
    // other filter makes FerretDB read and decode every document of the
    // collection in Go (about 0.1 ms each), so `{_id, enabled: true}` (every
    // conditional update) and `{accountId}` (every listing) cost a full scan.
    // keyportPrefilter (the file below) narrows in SQLite by the top-level
    // equalities it can express safely; the handler still filters every
    // returned document in Go (FilterIterator/FilterDocument), so a superset is enough.
    file: 'internal/backends/sqlite/collection.go',
    find: upstreamIdPushdown(''),
    replace: '	whereClause, args, keyportOrder, keyportLimit := keyportQuery(params.Filter, params.Sort, params.KeyportSort, params.KeyportLimit)',
    occurrences: 1,
  },
  {
    // The same in `explain`, so that it shows what queries do.
    file: 'internal/backends/sqlite/collection.go',
    find: upstreamIdPushdown('			filterPushdown = true\n'),
    replace: '	whereClause, args, keyportOrder, keyportLimit := keyportQuery(params.Filter, params.Sort, params.KeyportSort, params.KeyportLimit)\n	filterPushdown = whereClause != ""',
    occurrences: 1,
  },
  {
    file: 'internal/backends/sqlite/keyport_prefilter.go',
    create: KEYPORT_PREFILTER_GO,
  },
  {
    // The pushed-down sort and limit of an exact find (KEYPORT_EXACT_GO): two
    // fields of the backend's query (and explain) parameters, which other
    // backends ignore (the handler sorts and limits anyway).
    file: 'internal/backends/collection.go',
    find: '\tOnlyRecordIDs bool\n\tComment       string\n}\n',
    replace: '\tOnlyRecordIDs bool\n\tComment       string\n\n\tKeyportSort       *types.Document\n\tKeyportLimit      int64\n\tKeyportCountLimit int64\n}\n',
    occurrences: 1,
  },
  {
    // An exact count answered by SQLite (keyportCount): the count, instead of documents.
    file: 'internal/backends/collection.go',
    find: 'type QueryResult struct {\n\tIter types.DocumentsIterator\n}\n',
    replace: 'type QueryResult struct {\n\tIter types.DocumentsIterator\n\n\tKeyportCount   int64\n\tKeyportCounted bool\n}\n',
    occurrences: 1,
  },
  {
    file: 'internal/backends/sqlite/collection.go',
    find: '\tq := prepareSelectClause(meta.TableName, params.Comment, meta.Capped(), params.OnlyRecordIDs)\n',
    replace: '\tif res, ok, err := keyportCount(ctx, db, meta.TableName, params); ok || err != nil {\n\t\treturn res, err\n\t}\n\n\tq := prepareSelectClause(meta.TableName, params.Comment, meta.Capped(), params.OnlyRecordIDs)\n',
    occurrences: 1,
  },
  {
    // The count command's comment, which upstream parses and drops, tells an exact count.
    file: 'internal/handler/common/count.go',
    find: '\tComment        string          `ferretdb:"comment,ignored"`\n',
    replace: '\tComment        string          `ferretdb:"comment,opt"`\n',
    occurrences: 1,
  },
  {
    file: 'internal/handler/msg_count.go',
    find: '\tqueryRes, err := c.Query(connCtx, &qp)\n\tif err != nil {\n\t\treturn nil, lazyerrors.Error(err)\n\t}\n',
    replace: '\tqp.KeyportCountLimit = keyportCountLimit(h.DisablePushdown, params.Comment, params.Limit, params.Skip)\n\n\tqueryRes, err := c.Query(connCtx, &qp)\n\tif err != nil {\n\t\treturn nil, lazyerrors.Error(err)\n\t}\n\n\tif queryRes.KeyportCounted {\n\t\tqueryRes.Iter.Close()\n\n\t\treturn documentOpMsg(must.NotFail(types.NewDocument("n", int32(max(0, queryRes.KeyportCount-params.Skip)), "ok", float64(1))))\n\t}\n',
    occurrences: 1,
  },
  {
    file: 'internal/backends/collection.go',
    find: 'type ExplainParams struct {\n\tFilter *types.Document\n\tSort   *types.Document\n\tLimit  int64\n}\n',
    replace: 'type ExplainParams struct {\n\tFilter *types.Document\n\tSort   *types.Document\n\tLimit  int64\n\n\tKeyportSort  *types.Document\n\tKeyportLimit int64\n}\n',
    occurrences: 1,
  },
  {
    file: 'internal/backends/sqlite/collection.go',
    find: '\tq += prepareOrderByClause(params.Sort)\n\n\tif params.Limit != 0 {\n\t\tq += ` LIMIT ?`\n\t\targs = append(args, params.Limit)\n\t}\n',
    replace: '\tq += prepareOrderByClause(params.Sort) + keyportOrder\n\n\tif params.Limit != 0 {\n\t\tq += ` LIMIT ?`\n\t\targs = append(args, params.Limit)\n\t}\n\n\tif keyportLimit != 0 {\n\t\tq += ` LIMIT ?`\n\t\targs = append(args, keyportLimit)\n\t}\n',
    occurrences: 1,
  },
  {
    file: 'internal/backends/sqlite/collection.go',
    find: '\torderByClause := prepareOrderByClause(params.Sort)\n',
    replace: '\torderByClause := prepareOrderByClause(params.Sort) + keyportOrder\n',
    occurrences: 1,
  },
  {
    file: 'internal/backends/sqlite/collection.go',
    find: '\t\targs = append(args, params.Limit)\n\t\tlimitPushdown = true\n\t}\n',
    replace: '\t\targs = append(args, params.Limit)\n\t\tlimitPushdown = true\n\t}\n\n\tif keyportLimit != 0 {\n\t\tq += ` LIMIT ?`\n\t\targs = append(args, keyportLimit)\n\t\tlimitPushdown = true\n\t}\n',
    occurrences: 1,
  },
  {
    file: 'internal/backends/sqlite/keyport_exact.go',
    create: KEYPORT_EXACT_GO,
  },
  {
    file: 'internal/handler/keyport_exact.go',
    create: KEYPORT_EXACT_HANDLER_GO,
  },
  {
    file: 'internal/handler/msg_find.go',
    find: '\th.L.DebugContext(ctx, fmt.Sprintf("Converted %+v for %+v to %+v.", params, cInfo, qp))\n',
    replace: '\tqp.KeyportSort, qp.KeyportLimit = keyportExact(h.DisablePushdown, qp.Comment, params.Sort, params.Limit, params.Skip)\n\n\th.L.DebugContext(ctx, fmt.Sprintf("Converted %+v for %+v to %+v.", params, cInfo, qp))\n',
    occurrences: 1,
  },
  {
    file: 'internal/handler/msg_explain.go',
    find: '\tres, err := coll.Explain(connCtx, qp)\n',
    replace: '\tif !params.Aggregate {\n\t\tqp.KeyportSort, qp.KeyportLimit = keyportExact(h.DisablePushdown, keyportExplainComment(params.Command), params.Sort, params.Limit, params.Skip)\n\t}\n\n\tres, err := coll.Explain(connCtx, qp)\n',
    occurrences: 1,
  },
  {
    // resource.Track, a leak detector, records the stack of every tracked object
    // (each document iterator) in a pprof profile and gives it a finalizer that
    // panics if the object is never untracked: 12 % of FerretDB's CPU under
    // Keyport's wrong-secret load (perf), and a crash where a leak would do. Its
    // own Stack() already does nothing outside debug builds; Track and Untrack now do the same.
    file: 'internal/util/resource/resource.go',
    find: 'func Track(obj any, token *Token) {\n',
    replace: 'func Track(obj any, token *Token) {\n	if !debugbuild.Enabled {\n		return\n	}\n\n',
    occurrences: 1,
  },
  {
    file: 'internal/util/resource/resource.go',
    find: 'func Untrack(obj any, token *Token) {\n',
    replace: 'func Untrack(obj any, token *Token) {\n	if !debugbuild.Enabled {\n		return\n	}\n\n',
    occurrences: 1,
  },
  {
    file: 'cmd/ferretdb/keyport_stop_with_parent.go',
    create: KEYPORT_STOP_WITH_PARENT_GO,
  },
  {
    file: 'internal/handler/keyport_atomic_writes.go',
    create: KEYPORT_ATOMIC_WRITES_GO,
  },
  {
    file: 'internal/handler/msg_update.go',
    find: '	matched, modified, upserted, err := h.updateDocument(connCtx, params)\n',
    replace: '	matched, modified, upserted, err := h.keyportUpdateDocument(connCtx, params)\n',
    occurrences: 1,
  },
  {
    file: 'internal/handler/msg_findandmodify.go',
    find: '	res, err := h.findAndModifyDocument(connCtx, params)\n',
    replace: '	res, err := h.keyportFindAndModifyDocument(connCtx, params)\n',
    occurrences: 1,
  },
  {
    file: 'internal/handler/msg_findandmodify.go',
    find: '	iter = common.LimitIterator(iter, closer, 1)\n',
    replace: '	iter = common.LimitIterator(iter, closer, 1)\n\n	if iter, err = keyportReadThenClose(iter, queryRes.Iter); err != nil {\n		return nil, lazyerrors.Error(err)\n	}\n',
    occurrences: 1,
  },
  {
    file: 'internal/handler/msg_update.go',
    find: '		if !u.Multi {\n			iter = common.LimitIterator(iter, closer, 1)\n		}\n',
    replace: '		if !u.Multi {\n			iter = common.LimitIterator(iter, closer, 1)\n		}\n\n		if iter, err = keyportReadThenClose(iter, res.Iter); err != nil {\n			return 0, 0, nil, lazyerrors.Error(err)\n		}\n',
    occurrences: 1,
  },
  {
    file: 'internal/handler/msg_delete.go',
    find: '		d, err = h.execDelete(connCtx, c, &p)\n',
    replace: '		d, err = h.keyportExecDelete(connCtx, c, &p)\n',
    occurrences: 1,
  },
];

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Where `npm run setup` puts the binary inside the checkout. */
export function projectBinaryPath(): string {
  return join(PROJECT_ROOT, '.keyport', BUILD_NAME, 'ferretdb');
}

/** A per-machine cache, so that a fresh clone on the same machine does not rebuild. */
export function machineCachePath(env: NodeJS.ProcessEnv = process.env): string {
  const cacheRoot = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cacheRoot, 'keyport', BUILD_NAME, 'ferretdb');
}

export class FerretdbMissingError extends Error {
  override name = 'FerretdbMissingError';
}

/** Returns the binary to run, or null when none has been built yet. */
export function findFerretdbBinary(configured: string | null): string | null {
  if (configured) {
    if (!existsSync(configured)) throw new FerretdbMissingError(`FERRETDB_BIN points to ${configured}, which does not exist`);
    return configured;
  }
  const local = projectBinaryPath();
  if (existsSync(local)) return local;
  const cached = machineCachePath();
  if (existsSync(cached)) {
    installCopy(cached, local);
    return local;
  }
  return null;
}

function installCopy(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  const partial = `${to}.${process.pid}.partial`;
  copyFileSync(from, partial);
  chmodSync(partial, 0o755);
  renameSync(partial, to);
}

function run(command: string, args: string[], options: { cwd?: string; capture?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      stdio: ['ignore', options.capture ? 'pipe' : 'inherit', 'inherit'],
      env: { ...process.env, GOFLAGS: '-mod=readonly' },
    });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new FerretdbMissingError(missingGoMessage()) : err);
    });
    child.on('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} exited with code ${code}`));
    });
  });
}

export function missingGoMessage(): string {
  return [
    `FerretDB ${FERRETDB_VERSION} (Keyport's embedded database) is not built, and Go is not installed to build it.`,
    'Do one of:',
    '  - install Go 1.22 or newer (https://go.dev/dl/), then run: npm run setup',
    '  - set FERRETDB_BIN to the path of a FerretDB v1 binary',
    '  - set MONGODB_URI to use a MongoDB server instead (see README.md, "Deploy")',
  ].join('\n');
}

/** What to do when no binary is there: build it (Go is installed) or one of the other ways. */
export function notBuiltMessage(): string {
  const goInstalled = spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
  if (!goInstalled) return missingGoMessage();
  return [
    `FerretDB ${FERRETDB_VERSION} (Keyport's embedded database) is not built yet.`,
    'Run: npm run setup   (builds it once with Go, about a minute; `npm start` and `npm test` do this for you)',
    'Or set FERRETDB_BIN to a FerretDB v1 binary, or MONGODB_URI to use a MongoDB server.',
  ].join('\n');
}

/**
 * Builds FerretDB into the machine cache (if it is not there yet) and installs
 * it into the checkout. Prints progress, since a first build takes a minute or two.
 */
export async function buildFerretdb(say: (line: string) => void = (line) => console.error(line)): Promise<string> {
  const local = projectBinaryPath();
  const cached = machineCachePath();
  if (existsSync(local)) {
    say(`FerretDB ${FERRETDB_VERSION}: already built at ${local}`);
    return local;
  }
  if (!existsSync(cached)) {
    const started = Date.now();
    say(`FerretDB ${FERRETDB_VERSION}: [1/3] downloading the source from the Go module proxy…`);
    const info = JSON.parse(await run('go', ['mod', 'download', '-json', `${FERRETDB_MODULE}@${FERRETDB_VERSION}`], { capture: true })) as { Dir?: string; Error?: string };
    if (!info.Dir) throw new Error(`go mod download failed: ${info.Error ?? 'no directory returned'}`);
    const work = mkdtempSync(join(tmpdir(), 'keyport-ferretdb-'));
    try {
      const source = join(work, 'src');
      cpSync(info.Dir, source, { recursive: true });
      chmodRecursiveWritable(source);
      writeFileSync(join(source, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}-${KEYPORT_PATCH_LEVEL}\n`);
      applySourcePatches(source);
      say(`FerretDB ${FERRETDB_VERSION}: [2/3] compiling (about a minute on 2 cores; dependencies download on the first run)…`);
      mkdirSync(dirname(cached), { recursive: true });
      const partial = `${cached}.${process.pid}.partial`;
      await run('go', ['build', '-trimpath', '-o', partial, './cmd/ferretdb'], { cwd: source });
      renameSync(partial, cached);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    say(`FerretDB ${FERRETDB_VERSION}: built in ${Math.round((Date.now() - started) / 1000)} s, cached at ${cached}`);
  } else {
    say(`FerretDB ${FERRETDB_VERSION}: found in the machine cache ${cached}`);
  }
  say(`FerretDB ${FERRETDB_VERSION}: [3/3] installing into ${local}`);
  installCopy(cached, local);
  return local;
}

/** Applies SOURCE_PATCHES to a writable copy of the release's source. */
export function applySourcePatches(source: string): void {
  for (const patch of SOURCE_PATCHES) {
    const path = join(source, patch.file);
    if ('create' in patch) {
      if (existsSync(path)) throw new Error(`FerretDB source patch does not apply: ${patch.file} already exists`);
      writeFileSync(path, patch.create);
      continue;
    }
    const text = readFileSync(path, 'utf8');
    const found = text.split(patch.find).length - 1;
    if (found !== patch.occurrences) {
      throw new Error(`FerretDB source patch does not apply: ${patch.file} has ${found} × ${JSON.stringify(patch.find)}, expected ${patch.occurrences}`);
    }
    writeFileSync(path, text.replaceAll(patch.find, patch.replace));
  }
}

function chmodRecursiveWritable(dir: string): void {
  // The module cache is read-only; the copy must be writable to add version.txt and to be deleted.
  // node:fs has no recursive chmod, and `chmod -R` is on every platform the embedded mode supports.
  const result = spawnSync('chmod', ['-R', 'u+w', dir]);
  if (result.status !== 0) throw new Error(`chmod -R u+w ${dir} failed`);
}
