"""The handout builder: one notebook source per section, with solution markers (see ``handout.markers``)."""
