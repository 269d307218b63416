package wait_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/wait"
)

func TestForWaitsTheWholeDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		require.NoError(t, wait.For(context.Background(), 3*time.Second))
		require.Equal(t, 3*time.Second, time.Since(start))
		require.NoError(t, wait.Until(context.Background(), time.Now().Add(time.Minute)))
		require.Equal(t, time.Minute+3*time.Second, time.Since(start))
	})
}

func TestForEndsWithTheContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		require.ErrorIs(t, wait.For(ctx, time.Hour), context.DeadlineExceeded)
		require.Equal(t, time.Second, time.Since(start))
		// Nothing left to wait, but the context is done: say so.
		require.ErrorIs(t, wait.For(ctx, 0), context.DeadlineExceeded)
		require.ErrorIs(t, wait.Until(ctx, time.Now().Add(-time.Second)), context.DeadlineExceeded)
		require.NoError(t, wait.For(context.Background(), -time.Second))
	})
}
