package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/catalog"
	"github.com/exportd/exportd/internal/jsretry"
	"github.com/exportd/exportd/internal/registry"
	"github.com/nats-io/nats.go"
)

// startRegistry brings the registered destinations into the catalog and
// keeps them there as they change, answers the registry API, reseals
// values sealed with older keys, and removes idle destinations from their
// plugins. The returned function stops answering the API.
func (s *Service) startRegistry(ctx context.Context, c *conn) (func(), error) {
	store, err := s.watchRegistry(ctx, c)
	if err != nil {
		return nil, err
	}
	s.store.Store(store)
	go s.reseal(ctx)
	api, err := s.serveAPI(ctx, c, store)
	if err != nil {
		return nil, err
	}
	go s.Catalog.EvictIdle(ctx, catalog.DefaultIdleTimeout)
	return func() { _ = api.Unsubscribe() }, nil
}

// registryLoadTimeout bounds the first reading of the registry.
const registryLoadTimeout = 2 * time.Minute

// watchRegistry opens the registry bucket and applies its destinations to
// the catalog, now and as they change, until ctx is done. It returns once
// every destination registered so far is in the catalog.
func (s *Service) watchRegistry(ctx context.Context, c *conn) (*registry.Store, error) {
	octx, cancel := context.WithTimeout(ctx, daemonStartup)
	var store *registry.Store
	err := jsretry.Startup(octx, s.Log, "KV bucket "+s.Config.NATS.KVPrefix+registry.BucketSuffix, func(ctx context.Context) error {
		var err error
		store, err = registry.Open(ctx, c.js, s.Config.NATS.KVPrefix, s.Config.NATS.Replicas)
		return err
	})
	cancel()
	if err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	failed := make(chan error, 1)
	start := time.Now()
	go func() {
		for ctx.Err() == nil {
			err := store.Watch(ctx, func(ch registry.Change) { s.Catalog.Apply(ctx, ch) }, func() {
				select {
				case <-ready:
				default:
					close(ready)
				}
			})
			if ctx.Err() != nil {
				return
			}
			select {
			case <-ready:
				s.Log.Warn("watching the registry failed; watching again", "error", err)
			default:
				failed <- err
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	select {
	case <-ready:
	case err := <-failed:
		return nil, fmt.Errorf("read the registry: %w", err)
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(registryLoadTimeout):
		return nil, fmt.Errorf("read the registry: no answer from %s in %v", store.Bucket(), registryLoadTimeout)
	}
	s.Log.Info("registry loaded", "bucket", store.Bucket(), "destinations", len(s.Catalog.Names()), "took", time.Since(start).Round(time.Millisecond))
	return store, nil
}

// apiTimeout bounds the answer to one API request (a check assumes a
// role, say).
const apiTimeout = time.Minute

// apiConcurrency bounds the API requests one daemon answers at once.
const apiConcurrency = 16

// serveAPI answers the registry API's requests, in the daemons' queue
// group, until the returned subscription is unsubscribed.
func (s *Service) serveAPI(ctx context.Context, c *conn, store *registry.Store) (*nats.Subscription, error) {
	srv := &registry.Server{Store: store, Plugins: s.Catalog, Settings: s.Catalog.Settings, Log: s.Log}
	slots := make(chan struct{}, apiConcurrency)
	sub, err := c.nc.QueueSubscribe(registry.SubjectPrefix+"*", registry.QueueGroup, func(m *nats.Msg) {
		// A check may take seconds: requests are answered side by side,
		// up to apiConcurrency at once.
		slots <- struct{}{}
		go func() {
			defer func() { <-slots }()
			rctx, cancel := context.WithTimeout(ctx, apiTimeout)
			defer cancel()
			reply := srv.Handle(rctx, strings.TrimPrefix(m.Subject, registry.SubjectPrefix), m.Data)
			b, _ := json.Marshal(reply)
			if err := m.Respond(b); err != nil {
				s.Log.Warn("answering a registry request failed", "subject", m.Subject, "error", err)
			}
		}()
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to the registry API: %w", err)
	}
	return sub, nil
}

// reseal seals again with the current key the registered destinations'
// values sealed with an older one, so that the operator can retire it
// (see README, Rotating the key). Every replica does so after startup and
// each reload; compare-and-set lets one of them write each record.
func (s *Service) reseal(ctx context.Context) {
	store := s.store.Load()
	if store == nil {
		return
	}
	_, keys := s.Catalog.Settings()
	n, err := registry.Reseal(ctx, store, keys)
	if err != nil && ctx.Err() == nil {
		s.Log.Warn("sealing registered destinations again with the current key failed for some", "key", keys.Current(), "error", err)
	}
	if n > 0 {
		s.Log.Info("registered destinations sealed again with the current key", "key", keys.Current(), "destinations", n)
	}
}
