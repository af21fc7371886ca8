package devserver

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	// The postgres12 SQL plugin registers itself with the persistence layer when imported
	// (the server package imports it too; named here for its PluginName).
	pgplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	pgschema "go.temporal.io/server/schema/postgresql/v12"
	schematool "go.temporal.io/server/tools/common/schema"
	sqltool "go.temporal.io/server/tools/sql"
)

// postgresStores parses a --temporal-db URL (postgres://USER@HOST:PORT/DB?sslmode=...) into
// the two databases Temporal uses: DB for workflows and DB_visibility for visibility. The
// password is never part of the URL: it comes from passwordFile (or, when that is "", the
// server connects without one: trust or peer authentication, or a ~/.pgpass).
func postgresStores(rawURL, passwordFile string) (main, visibility *config.SQL, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("--temporal-db: not a URL: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, nil, fmt.Errorf("--temporal-db: scheme %q: want postgres://USER@HOST:PORT/DATABASE", u.Scheme)
	}
	if _, has := u.User.Password(); has {
		return nil, nil, errors.New("--temporal-db: the URL holds a password: put it in a file and pass --temporal-db-password-file instead, so it appears in no process list or log")
	}
	if u.User.Username() == "" {
		return nil, nil, errors.New("--temporal-db: no user: want postgres://USER@HOST:PORT/DATABASE")
	}
	host := u.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "5432")
	}
	name := strings.Trim(u.Path, "/")
	if name == "" {
		name = "temporal"
	}
	var password string
	if passwordFile != "" {
		raw, err := os.ReadFile(passwordFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--temporal-db-password-file: %w", err)
		}
		password = strings.TrimRight(string(raw), "\r\n")
	}
	attrs := map[string]string{}
	for k, v := range u.Query() {
		attrs[k] = v[len(v)-1]
	}
	store := func(db string) *config.SQL {
		return &config.SQL{
			PluginName:        pgplugin.PluginName,
			User:              u.User.Username(),
			Password:          password,
			DatabaseName:      db,
			ConnectAddr:       host,
			ConnectProtocol:   "tcp",
			ConnectAttributes: attrs,
			MaxConns:          20,
			MaxIdleConns:      20,
		}
	}
	return store(name), store(name + "_visibility"), nil
}

// preparePostgres makes sure both databases exist and carry the schema shipped with the server
// module (schema/postgresql/v12), as Temporal's own sql tool does it: an empty database gets
// the full schema at the module's version; every start then applies the versioned updates past
// the database's version (none, unless the server module was upgraded).
func preparePostgres(main, visibility *config.SQL, logger log.Logger) error {
	for _, db := range []struct {
		store      *config.SQL
		schemaName string
		version    string
	}{
		{main, "postgresql/v12/temporal", pgschema.Version},
		{visibility, "postgresql/v12/visibility", pgschema.VisibilityVersion},
	} {
		if err := prepareSchema(db.store, db.schemaName, db.version, logger); err != nil {
			return fmt.Errorf("devserver: database %s on %s: %w", db.store.DatabaseName, db.store.ConnectAddr, err)
		}
	}
	return nil
}

func prepareSchema(store *config.SQL, schemaName, version string, logger log.Logger) error {
	// CREATE DATABASE through the maintenance database; an existing one is fine. A user
	// without CREATEDB can still use a database an admin made, so a failure here only counts
	// if the database cannot be reached next.
	admin := *store
	createErr := sqltool.DoCreateDatabase(&admin, "postgres", logger)

	conn, err := sqltool.NewConnection(store, logger)
	if err != nil {
		return errors.Join(err, createErr)
	}
	defer conn.Close()
	tables, err := conn.ListTables()
	if err != nil {
		return errors.Join(err, createErr)
	}
	if len(tables) == 0 {
		setup := schematool.NewSetupSchemaTask(conn, &schematool.SetupConfig{SchemaName: schemaName, InitialVersion: version}, logger)
		if err := setup.Run(); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	update := schematool.NewUpdateSchemaTask(conn, &schematool.UpdateConfig{DBName: store.DatabaseName, SchemaName: schemaName}, logger)
	if err := update.Run(); err != nil {
		return fmt.Errorf("update schema: %w", err)
	}
	return nil
}
